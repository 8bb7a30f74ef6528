// `llama-worker tokenize`: a model's tokenizer on the command line.
//   tokenize -m MODEL --cases FILE.inp [--special]   upstream vectors: one .out line per case
//   tokenize -m MODEL --text "..." [--special] [--add-special]   the ids of one string
//   tokenize -m MODEL --decode "ids"                  the text of ids (space or comma separated)
// Encoding adds no BOS/EOS unless --add-special; --special parses control tokens in the text.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command.hpp"
#include "cli/file_checks.hpp"
#include "gguf/file.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/tokenizer_from_gguf.hpp"
#include "tokenizer/upstream_cases.hpp"

namespace llama_worker::cli {
namespace {

struct TokenizeOptions {
  enum class Mode { kCases, kText, kDecode } mode = Mode::kText;
  std::string model;
  std::string cases;
  std::string text;
  std::string decode;
  bool special = false;
  bool add_special = false;
};

Result<tokenizer::Tokenizer> load_tokenizer(const std::string& path) {
  LW_TRY(check_input_file(path, "model", "a GGUF file"));
  LW_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path));
  return tokenizer::tokenizer_from_gguf(file);
}

Result<std::string> read_file(const std::string& path) {
  LW_TRY(check_input_file(path, "cases", "a .inp file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, path + ": cannot open");
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::kIoError, path + ": read failed");
  return content.str();
}

Result<std::vector<int32_t>> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == ' ' || c == ',' || c == '\t' || c == '\n' || c == '[' || c == ']') {
      ++i;
      continue;
    }
    // One word: everything up to the next separator, so a bad id is quoted as it was typed.
    size_t end = i;
    while (end < text.size() && std::string_view(" ,\t\n[]").find(text[end]) == std::string_view::npos) ++end;
    const std::string number = text.substr(i, end - i);
    size_t digits = number[0] == '-' ? 1 : 0;
    if (digits == number.size() || number.find_first_not_of("0123456789", digits) != std::string::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--decode: '" + number.substr(0, 40) + "' is not a token id");
    }
    try {
      const long long value = std::stoll(number);
      if (value < INT32_MIN || value > INT32_MAX) throw std::out_of_range(number);
      ids.push_back(static_cast<int32_t>(value));
    } catch (const std::exception&) {
      return make_error(ErrorCode::kInvalidArgument, "--decode: '" + number + "' is out of range");
    }
    i = end;
  }
  return ids;
}

int run_tokenize(const TokenizeOptions& options) {
  Result<tokenizer::Tokenizer> loaded = load_tokenizer(options.model);
  if (!loaded) return report_error("tokenize", loaded.error());
  const tokenizer::Tokenizer& tokenizer = *loaded;
  tokenizer::EncodeOptions encode_options;
  encode_options.parse_special = options.special;
  encode_options.add_special = options.add_special;

  if (options.mode == TokenizeOptions::Mode::kCases) {
    Result<std::string> content = read_file(options.cases);
    if (!content) return report_error("tokenize", content.error());
    Result<std::vector<std::string>> cases = tokenizer::parse_upstream_cases(*content);
    if (!cases) return report_error(options.cases, cases.error());
    std::string out;
    for (size_t i = 0; i < cases->size(); ++i) {
      Result<std::vector<int32_t>> ids = tokenizer.encode((*cases)[i], encode_options);
      if (!ids) return report_error(options.cases + ": case " + std::to_string(i + 1), ids.error());
      out += tokenizer::format_upstream_ids(*ids);
      out.push_back('\n');
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  if (options.mode == TokenizeOptions::Mode::kDecode) {
    Result<std::vector<int32_t>> ids = parse_ids(options.decode);
    if (!ids) return report_error("tokenize", ids.error());
    Result<std::string> text = tokenizer.decode(*ids);
    if (!text) return report_error("tokenize --decode", text.error());
    std::fwrite(text->data(), 1, text->size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }
  Result<std::vector<int32_t>> ids = tokenizer.encode(options.text, encode_options);
  if (!ids) return report_error("tokenize --text", ids.error());
  std::string line = tokenizer::format_upstream_ids(*ids);
  if (!line.empty()) line.erase(0, 1);
  std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace

Command add_tokenize_command(CLI::App& parent) {
  Command command;
  command.app = parent.add_subcommand(
      "tokenize", "Encode text to token ids or decode ids to text with a model's tokenizer");
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* app = command.app;
  app->add_option("-m,--model", options->model, "GGUF file whose tokenizer.ggml.* metadata to use")
      ->required();
  auto* cases = app->add_option(
      "--cases", options->cases,
      "Upstream test cases (.inp, separated by __ggml_vocab_test__ lines): print one .out line per case");
  auto* text = app->add_option("--text", options->text, "Print the ids of this text");
  auto* decode =
      app->add_option("--decode", options->decode, "Print the text of these ids (space or comma separated)");
  cases->excludes(text)->excludes(decode);
  text->excludes(decode);
  app->add_flag("--special", options->special, "Parse control tokens (<|im_start|>, <s>) in the text");
  app->add_flag("--add-special", options->add_special, "Add BOS/EOS as the model's tokenizer says");
  command.run = [options, app]() {
    if (app->count("--cases") + app->count("--text") + app->count("--decode") != 1) {
      std::fprintf(stderr, "error: tokenize: give one of --cases, --text, --decode\n");
      return 2;
    }
    options->mode = app->count("--cases")    ? TokenizeOptions::Mode::kCases
                    : app->count("--decode") ? TokenizeOptions::Mode::kDecode
                                             : TokenizeOptions::Mode::kText;
    return run_tokenize(*options);
  };
  return command;
}

}  // namespace llama_worker::cli
