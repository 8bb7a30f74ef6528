// `llama-worker generate [-m MODEL] -p PROMPT [-n N] [--seed S] [--temp T] [--top-k K] [--top-p P]
//  [--min-p M] [--repeat-penalty R] [--chat] [--backend cpu|cuda]`: streams the generated text to
// stdout and the timing to stderr. Without -m it runs the default model (model_backend.hpp) and
// says how to fetch it when it is missing.
// `--parallel N --prompts-file FILE` (instead of -p) runs the first N lines of FILE at once through
// one scheduler (generate_parallel.hpp).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/command.hpp"
#include "cli/generate_parallel.hpp"
#include "cli/model_backend.hpp"
#include "cli/number_options.hpp"
#include "runtime/session.hpp"
#include "sampling/sampling_params.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/tokenizer_from_gguf.hpp"

namespace llama_worker::cli {
namespace {

struct GenerateOptions {
  std::string model;
  std::string prompt;
  int64_t max_tokens = 64;
  sampling::SamplingParams sampling;
  bool chat = false;
  bool model_given = false;  // -m was on the command line (an empty -m is a mistake, not the default)
  BackendOptions backend;
  int64_t parallel = 0;  // --parallel N: sequences at once (0 = one prompt from -p)
  std::string prompts_file;
  bool prompt_given = false;
};

int run_generate(const GenerateOptions& options) {
  if (options.parallel == 0 && !options.prompt_given) {
    std::fprintf(stderr,
                 "error: --prompt is required (or --parallel N --prompts-file FILE)\n"
                 "Run 'llama-worker generate --help' for more information.\n");
    return 2;
  }
  if (auto valid = sampling::validate(options.sampling); !valid)
    return report_error("generate", valid.error());
  if (options.max_tokens < 1) {
    return report_error("generate", make_error(ErrorCode::kInvalidArgument,
                                               "-n/--n-predict is " + std::to_string(options.max_tokens) +
                                                   ": it must be at least 1 (tokens to generate)"));
  }
  std::vector<std::string> prompts;
  if (options.parallel > 0) {
    auto read = read_prompts_file(options.prompts_file, options.parallel);
    if (!read) return report_error("generate", read.error());
    prompts = std::move(*read);
  } else if (options.prompt.empty()) {
    return report_error("generate", make_error(ErrorCode::kInvalidArgument, "the prompt is empty (-p \"\")"));
  }
  std::string path = options.model;
  if (options.model_given && path.empty()) {
    return report_error("generate",
                        make_error(ErrorCode::kInvalidArgument,
                                   "-m/--model is empty: give a model file, or leave -m out for the "
                                   "default model"));
  }
  if (path.empty()) {
    path = default_model_path();
    if (!std::filesystem::exists(path)) {
      return report_error("generate", make_error(ErrorCode::kNotFound,
                                                 "no -m MODEL given and the default model '" + path +
                                                     "' is not fetched; run " + kDefaultModelFetchScript));
    }
  }
  if (auto usable = check_model_path(path); !usable) return report_error("generate", usable.error());
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto file = gguf::File::open(path);
  if (!file) return report_error("generate", file.error());
  auto tokenizer = tokenizer::tokenizer_from_gguf(*file);
  if (!tokenizer) return report_error("generate", tokenizer.error());
  auto backend = open_backend(*file, options.backend);
  if (!backend) return report_error("generate", backend.error());
  const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();

  runtime::GenerationOptions generation;
  generation.max_tokens = options.max_tokens;
  generation.sampling = options.sampling;
  generation.chat = options.chat;
  if (options.chat && file->has("tokenizer.chat_template")) {
    auto chat_template = file->get<std::string>("tokenizer.chat_template");
    if (!chat_template) return report_error("generate", chat_template.error());
    generation.chat_template = *chat_template;
  }
  if (options.parallel > 0) {
    ParallelGeneration run{.prompts = prompts,
                           .generation = generation,
                           .backend_name = resolved_backend(options.backend),
                           .load_ms = load_ms};
    return generate_parallel(**backend, *tokenizer, run);
  }
  runtime::Session session(**backend, *tokenizer);
  auto result = session.generate(options.prompt, generation, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  });
  if (!result) return report_error("generate", result.error());
  // The statistics start on their own line even when stdout and stderr share a pipe (`2>&1 | tee`):
  // a buffered stdout would hold this newline back until exit, after the statistics.
  // A failed write of the text (full device, closed stdout) is reported here, while errno still
  // names it: the newline's flush retries the write and fails the same way.
  std::fputc('\n', stdout);
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return report_stdout_failure("generate", errno);
  const size_t generated = result->generated_tokens.size();
  std::fprintf(
      stderr,
      "model %s (%s), backend %s\n"
      "load %.0f ms | prompt %zu tokens, prefill %.0f ms (%.1f tok/s) | generated %zu tokens, %.0f ms "
      "(%.1f tok/s) | stop: %s\n",
      (*backend)->config().name.c_str(), (*backend)->config().architecture.c_str(),
      resolved_backend(options.backend).c_str(), load_ms, result->prompt_tokens.size(), result->prefill_ms,
      result->prompt_tokens.size() * 1000.0 / std::max(result->prefill_ms, 1e-3), generated,
      result->decode_ms, generated * 1000.0 / std::max(result->decode_ms, 1e-3), result->stop_reason.c_str());
  return 0;
}

}  // namespace

Command add_generate_command(CLI::App& parent) {
  auto options = std::make_shared<GenerateOptions>();
  Command command;
  command.app =
      parent.add_subcommand("generate", "Generate text from a prompt (text to stdout, timing to stderr)");
  CLI::App& app = *command.app;
  app.add_option("-m,--model", options->model,
                 "GGUF model file (default: " + std::string(kDefaultModelFile) +
                     " in the llama-worker cache, see " + kDefaultModelFetchScript + ")");
  CLI::Option* prompt =
      app.add_option("-p,--prompt", options->prompt, "Prompt text (required without --parallel)");
  add_whole_number_option(app, "-n,--n-predict", options->max_tokens, "Tokens to generate at most",
                          int64_t{0});
  add_whole_number_option(app, "--seed", options->sampling.seed, "Random seed", uint64_t{0});
  app.add_option("--temp", options->sampling.temperature, "Temperature (0 = greedy)")->capture_default_str();
  app.add_option("--top-k", options->sampling.top_k, "Keep the k most likely tokens (0 = all)")
      ->capture_default_str();
  app.add_option("--top-p", options->sampling.top_p, "Nucleus mass in (0, 1] (1 = all)")
      ->capture_default_str();
  app.add_option("--min-p", options->sampling.min_p,
                 "Drop tokens below min-p x the top probability (0 = none)")
      ->capture_default_str();
  app.add_option("--repeat-penalty", options->sampling.repetition_penalty, "Repetition penalty (1 = none)")
      ->capture_default_str();
  app.add_option("--repeat-last-n", options->sampling.repeat_last_n,
                 "Tokens of history the penalty looks at (-1 = all, 0 = none)")
      ->capture_default_str();
  app.add_flag("--chat", options->chat, "Wrap the prompt in the model's chat format (ChatML or Phi-3)");
  add_backend_options(app, options->backend);
  CLI::Option* parallel = add_whole_number_option(
      app, "--parallel", options->parallel,
      "Run the first N prompts of --prompts-file at once through the scheduler (1 to 256)", int64_t{1},
      kMaxParallelPrompts);
  CLI::Option* prompts_file =
      app.add_option("--prompts-file", options->prompts_file,
                     "One prompt per line, for --parallel N (at least N lines; the first N are used)");
  parallel->needs(prompts_file);
  prompts_file->needs(parallel);
  prompt->excludes(parallel);
  command.run = [options, &app] {
    options->model_given = app.count("--model") > 0;
    options->prompt_given = app.count("--prompt") > 0;
    return run_generate(*options);
  };
  return command;
}

}  // namespace llama_worker::cli
