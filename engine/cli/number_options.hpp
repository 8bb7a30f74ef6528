// Numeric options parsed strictly, with plain-words usage errors (status 2).
//
// CLI11's own conversions let `--seed -5` wrap to 2^64 - 5, clamp `99999999999999999999999`, and
// its range checks print their bounds as doubles ("0.000000 to 17976931..." with 310 digits).
// Every whole-number option of the CLI goes through add_whole_number_option instead: decimal
// digits only (no sign, no spaces, no exponent), within [minimum, maximum], else "--seed must be 0
// or more (got '-5')". Real-valued options that must not be negative use zero_or_more_number.
#pragma once

#include <CLI/CLI.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <system_error>
#include <type_traits>

namespace llama_worker::cli {

// The most CPU worker threads any subcommand accepts (the C API's limit, lw_model_options).
inline constexpr int kMaxThreads = 4096;

template <typename Integer>
Integer parse_whole_number(const std::string& flag, const std::string& text, Integer minimum,
                           Integer maximum) {
  const std::string bounds = maximum == std::numeric_limits<Integer>::max()
                                 ? std::to_string(minimum) + " or more"
                                 : "from " + std::to_string(minimum) + " to " + std::to_string(maximum);
  if (!text.empty() && text[0] == '-' && text.size() > 1 &&
      std::isdigit(static_cast<unsigned char>(text[1]))) {
    throw CLI::ValidationError(flag + " must be " + bounds + " (got '" + text + "')");
  }
  unsigned long long value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value, 10);
  if (text.empty() || stop != end || (error != std::errc() && error != std::errc::result_out_of_range)) {
    throw CLI::ValidationError(flag + " must be a whole number " + bounds + " (got '" + text + "')");
  }
  if (error == std::errc::result_out_of_range || value > static_cast<unsigned long long>(maximum)) {
    throw CLI::ValidationError(flag + " is too large: it must be " + bounds + " (got '" + text + "')");
  }
  if (value < static_cast<unsigned long long>(minimum)) {
    throw CLI::ValidationError(flag + " must be " + bounds + " (got '" + text + "')");
  }
  return static_cast<Integer>(value);
}

// `names` as for CLI::App::add_option ("-n,--n-predict"); the first long name is used in messages.
template <typename Integer>
CLI::Option* add_whole_number_option(CLI::App& app, const std::string& names, Integer& target,
                                     const std::string& description, Integer minimum,
                                     Integer maximum = std::numeric_limits<Integer>::max()) {
  static_assert(std::is_integral_v<Integer>);
  const size_t long_name = names.find("--");
  const std::string flag = long_name == std::string::npos
                               ? names
                               : names.substr(long_name, names.find(',', long_name) - long_name);
  CLI::Option* option = app.add_option_function<std::string>(
      names,
      [&target, flag, minimum, maximum](const std::string& text) {
        target = parse_whole_number<Integer>(flag, text, minimum, maximum);
      },
      description);
  option->type_name("INT")->default_str(std::to_string(target));
  return option;
}

// A real number that must be finite and not negative.
inline CLI::Validator zero_or_more_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double value = 0;
        try {
          size_t used = 0;
          value = std::stod(text, &used);
          if (used != text.size()) return "must be a number 0 or more (got '" + text + "')";
        } catch (const std::exception&) {
          return "must be a number 0 or more (got '" + text + "')";
        }
        if (!std::isfinite(value) || value < 0) return "must be a number 0 or more (got '" + text + "')";
        return std::string();
      },
      "NUMBER >= 0");
}

}  // namespace llama_worker::cli
