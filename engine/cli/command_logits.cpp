// `llama-worker logits -m MODEL --tokens "ID ID ..." --out FILE`: runs the model on the given
// token ids (one batched prefill) and writes the logits of every position as little-endian
// float32, positions x vocabulary, row-major. stdout: one summary line with the top-1 id of each
// position; stderr: timing.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "cli/file_checks.hpp"
#include "cli/model_backend.hpp"

namespace llama_worker::cli {
namespace {

struct LogitsOptions {
  std::string model;
  std::string tokens;
  std::string out;
  BackendOptions backend;
};

Result<std::vector<int32_t>> parse_token_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::istringstream stream(text);
  std::string word;
  while (stream >> word) {
    size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(word, &used);
    } catch (...) {
      used = 0;
    }
    if (used != word.size() || value < 0 || value > INT32_MAX) {
      return make_error(ErrorCode::kInvalidArgument, "--tokens: '" + word + "' is not a token id");
    }
    ids.push_back(static_cast<int32_t>(value));
  }
  if (ids.empty()) return make_error(ErrorCode::kInvalidArgument, "--tokens: no token ids given");
  return ids;
}

bool is_little_endian() {
  const uint16_t probe = 1;
  return *reinterpret_cast<const uint8_t*>(&probe) == 1;
}

int run_logits(const LogitsOptions& options) {
  auto ids = parse_token_ids(options.tokens);
  if (!ids) return report_error("logits", ids.error());
  if (auto usable = check_model_path(options.model); !usable) return report_error("logits", usable.error());
  if (auto writable = check_output_file(options.out, "--out"); !writable)
    return report_error("logits", writable.error());
  auto file = gguf::File::open(options.model);
  if (!file) return report_error("logits", file.error());
  const auto start = std::chrono::steady_clock::now();
  auto backend = open_backend(*file, options.backend);
  if (!backend) return report_error("logits", backend.error());
  const auto loaded = std::chrono::steady_clock::now();
  std::vector<float> logits;
  if (auto status = (*backend)->forward(*ids, runtime::LogitsMode::kAllPositions, logits); !status) {
    return report_error("logits", status.error());
  }
  const auto done = std::chrono::steady_clock::now();

  if (!is_little_endian()) {
    return report_error("logits", make_error(ErrorCode::kUnsupported, "big-endian hosts are not supported"));
  }
  std::ofstream out(options.out, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(logits.data()),
            static_cast<std::streamsize>(logits.size() * sizeof(float)));
  out.close();
  if (!out)
    return report_error("logits", make_error(ErrorCode::kIoError, "cannot write '" + options.out + "'"));

  const int64_t vocab = (*backend)->config().vocab_size;
  std::string top1;
  for (size_t p = 0; p < ids->size(); ++p) {
    const float* row = logits.data() + p * vocab;
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; ++i) best = row[i] > row[best] ? i : best;
    top1 += (p ? " " : "") + std::to_string(best);
  }
  std::printf("positions %zu vocab %lld top1 %s\n", ids->size(), static_cast<long long>(vocab), top1.c_str());
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::fprintf(stderr, "load %.1f ms, prefill %zu tokens %.1f ms\n", ms(start, loaded), ids->size(),
               ms(loaded, done));
  return 0;
}

}  // namespace

Command add_logits_command(CLI::App& parent) {
  auto options = std::make_shared<LogitsOptions>();
  Command command;
  command.app =
      parent.add_subcommand("logits", "Write the logits of every position of a token sequence (float32 LE)");
  command.app->add_option("-m,--model", options->model, "GGUF model file")->required();
  command.app->add_option("--tokens", options->tokens, "Token ids, space-separated")->required();
  command.app->add_option("--out", options->out, "Output file: positions x vocabulary little-endian float32")
      ->required();
  add_backend_options(*command.app, options->backend);
  command.run = [options] { return run_logits(*options); };
  return command;
}

}  // namespace llama_worker::cli
