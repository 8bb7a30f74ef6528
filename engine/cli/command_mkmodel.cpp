// `llama-worker mkmodel --vocab VOCAB.gguf --quant RECIPE --seed N [--layers L] [--embd E]
// [--ff F] [--heads H] [--kv-heads K] [--tied] [--threads T] -o OUT.gguf`: writes a synthetic
// model (engine/model/synthetic): the vocabulary file's metadata and tokenizer, its
// hyperparameters unless overridden, deterministic random weights quantized as llama.cpp's
// recipe would. Same arguments, same bytes on any machine (--threads changes only the speed).
// stdout: what was written (tensor types, parameters, bytes, SHA-256); stderr: timing.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "cli/command.hpp"
#include "cli/file_checks.hpp"
#include "cli/number_options.hpp"
#include "gguf/writer.hpp"
#include "model/synthetic/sha256.hpp"
#include "model/synthetic/synthetic_model.hpp"

namespace llama_worker::cli {
namespace {

struct MkmodelArguments {
  synthetic::SyntheticOptions options;
  std::string output;
  int64_t layers = 0, embedding = 0, feed_forward = 0, heads = 0,
          kv_heads = 0;  // 0: from the vocabulary file
};

// Widths and counts beyond these are no model this engine could load; the checks keep the shape
// arithmetic far from overflow (an allocation still too large is "out of host memory").
constexpr int64_t kMaxEmbedding = int64_t{1} << 16;    // the largest real models: 16,384
constexpr int64_t kMaxFeedForward = int64_t{1} << 18;  // the largest real models: 53,248
constexpr int64_t kMaxLayersOrHeads = int64_t{1} << 12;

int run_mkmodel(const MkmodelArguments& arguments) {
  if (auto usable = check_existing_input_file(arguments.options.vocabulary_path, "vocabulary", "a GGUF file");
      !usable) {
    return report_error("mkmodel", usable.error());
  }
  if (auto writable = check_output_file(arguments.output, "-o/--output"); !writable) {
    return report_error("mkmodel", writable.error());
  }
  const auto start = std::chrono::steady_clock::now();
  synthetic::SyntheticOptions options = arguments.options;
  const auto set_override = [](std::optional<int64_t>& slot, int64_t value) {
    if (value != 0) slot = value;
  };
  set_override(options.overrides.layers, arguments.layers);
  set_override(options.overrides.embedding, arguments.embedding);
  set_override(options.overrides.feed_forward, arguments.feed_forward);
  set_override(options.overrides.heads, arguments.heads);
  set_override(options.overrides.kv_heads, arguments.kv_heads);

  gguf::Writer writer;
  auto summary = synthetic::build_synthetic_model(options, writer);
  if (!summary) return report_error("mkmodel", summary.error());
  const auto built = std::chrono::steady_clock::now();
  const Status written = writer.write(arguments.output);
  if (!written) return report_error(arguments.output, written.error());
  const auto done = std::chrono::steady_clock::now();
  auto digest = synthetic::sha256_file_hex(arguments.output);
  if (!digest) return report_error(arguments.output, digest.error());
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(arguments.output, error);

  const auto& shape = summary->shape;
  std::printf("wrote %s\n", arguments.output.c_str());
  std::printf(
      "  architecture %s: %lld layers, embedding %lld, feed-forward %lld, heads %lld/%lld (kv), vocabulary "
      "%lld%s\n",
      shape.architecture.c_str(), static_cast<long long>(shape.layers),
      static_cast<long long>(shape.embedding), static_cast<long long>(shape.feed_forward),
      static_cast<long long>(shape.heads), static_cast<long long>(shape.kv_heads),
      static_cast<long long>(shape.vocabulary), shape.tied ? ", tied output" : "");
  std::printf("  recipe %s (general.file_type %u), seed %llu\n", std::string(summary->recipe.name).c_str(),
              summary->recipe.file_type, static_cast<unsigned long long>(options.seed));
  std::string types;
  for (const auto& [name, count] : summary->type_counts)
    types += (types.empty() ? "" : ", ") + name + " x" + std::to_string(count);
  std::printf("  tensors %zu (%s), parameters %llu, tensor data %llu bytes\n", summary->tensor_count,
              types.c_str(), static_cast<unsigned long long>(summary->parameters),
              static_cast<unsigned long long>(summary->tensor_bytes));
  std::printf("  file size %llu bytes\n", static_cast<unsigned long long>(error ? 0 : size));
  std::printf("  sha256 %s\n", digest->c_str());
  const auto seconds = [](auto from, auto to) { return std::chrono::duration<double>(to - from).count(); };
  std::fprintf(stderr, "mkmodel: generated in %.2f s, written in %.2f s\n", seconds(start, built),
               seconds(built, done));
  return 0;
}

}  // namespace

Command add_mkmodel_command(CLI::App& parent) {
  Command command;
  auto arguments = std::make_shared<MkmodelArguments>();
  CLI::App* app = parent.add_subcommand(
      "mkmodel", "Write a synthetic GGUF model with the exact shapes of a real one and random weights");
  command.app = app;
  app->add_option("--vocab", arguments->options.vocabulary_path,
                  "Weightless vocabulary GGUF: metadata, tokenizer and default hyperparameters")
      ->required();
  app->add_option(
         "--quant", arguments->options.recipe,
         "Recipe: " + synthetic::supported_recipe_names() + " (types chosen per tensor as llama.cpp does)")
      ->required();
  add_whole_number_option(*app, "--seed", arguments->options.seed, "Seed of the weights", uint64_t{0})
      ->required();
  add_whole_number_option(*app, "--layers", arguments->layers, "Blocks (default: the vocabulary file's)",
                          int64_t{1}, kMaxLayersOrHeads);
  add_whole_number_option(*app, "--embd", arguments->embedding, "Embedding width", int64_t{1}, kMaxEmbedding);
  add_whole_number_option(*app, "--ff", arguments->feed_forward, "Feed-forward width", int64_t{1},
                          kMaxFeedForward);
  add_whole_number_option(*app, "--heads", arguments->heads, "Attention heads", int64_t{1},
                          kMaxLayersOrHeads);
  add_whole_number_option(*app, "--kv-heads", arguments->kv_heads, "Key/value heads", int64_t{1},
                          kMaxLayersOrHeads);
  app->add_flag("--tied", arguments->options.overrides.tied, "No output.weight: the logits use token_embd");
  add_whole_number_option(*app, "--threads", arguments->options.threads,
                          "Worker threads (default: all; the bytes do not change)", 0, kMaxThreads);
  app->add_option("-o,--output", arguments->output, "Output GGUF file")->required();
  command.run = [arguments] { return run_mkmodel(*arguments); };
  return command;
}

}  // namespace llama_worker::cli
