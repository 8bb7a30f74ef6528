// generate --parallel (see generate_parallel.hpp).
#include "cli/generate_parallel.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>

#include "cli/command.hpp"
#include "cli/file_checks.hpp"
#include "runtime/batched_backend.hpp"
#include "runtime/scheduler/scheduler.hpp"
#include "tokenizer/streaming_decoder.hpp"

namespace llama_worker::cli {

namespace {

namespace scheduler = runtime::scheduler;
using Clock = std::chrono::steady_clock;

constexpr int64_t kPrefillChunk = 512;  // as Session's GenerationOptions::prefill_chunk

struct Stream {
  std::vector<int32_t> prompt;
  scheduler::SequenceId id = 0;
  std::optional<tokenizer::StreamingDecoder> decoder;
  std::string text;
  int64_t generated = 0;
  bool finished = false;
  std::string stop_reason = "token limit";
};

}  // namespace

Result<std::vector<std::string>> read_prompts_file(const std::string& path, int64_t count) {
  LW_TRY(check_input_file(path, "prompts", "a text file, one prompt per line"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open --prompts-file '" + path + "'");
  std::vector<std::string> prompts;
  std::string line;
  while (static_cast<int64_t>(prompts.size()) < count && std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "--prompts-file '" + path + "': line " +
                                                         std::to_string(prompts.size() + 1) +
                                                         " is empty (one prompt per line)");
    }
    prompts.push_back(line);
  }
  if (in.bad()) return make_error(ErrorCode::kIoError, "read error in --prompts-file '" + path + "'");
  if (static_cast<int64_t>(prompts.size()) < count) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--prompts-file '" + path + "' has " + std::to_string(prompts.size()) +
                          " prompt line(s); --parallel " + std::to_string(count) + " needs " +
                          std::to_string(count));
  }
  return prompts;
}

int generate_parallel(runtime::InferenceBackend& backend, const tokenizer::Tokenizer& tokenizer,
                      const ParallelGeneration& run) {
  auto* batched = dynamic_cast<runtime::BatchedInferenceBackend*>(&backend);
  if (batched == nullptr) {
    return report_error("generate", make_error(ErrorCode::kUnsupported,
                                               "backend " + run.backend_name +
                                                   " does not serve --parallel (no batched forward)"));
  }
  const runtime::GenerationOptions& options = run.generation;
  const int64_t capacity = batched->context_capacity();
  const runtime::Session encoder(backend, tokenizer);
  std::vector<Stream> streams(run.prompts.size());
  int64_t kv_blocks = 0;
  for (size_t k = 0; k < streams.size(); ++k) {
    const std::string which = "prompt " + std::to_string(k + 1);
    auto encoded = encoder.encode_prompt(run.prompts[k], options);
    if (!encoded) return report_error("generate: " + which, encoded.error());
    streams[k].prompt = std::move(*encoded);
    const auto prompt_size = static_cast<int64_t>(streams[k].prompt.size());
    // Session::generate's check and message, word for word.
    if (options.max_tokens > capacity - prompt_size) {
      return report_error(
          "generate: " + which,
          make_error(ErrorCode::kOutOfRange, "the prompt (" + std::to_string(prompt_size) + " tokens) plus " +
                                                 std::to_string(options.max_tokens) +
                                                 " tokens to generate exceed the context of " +
                                                 std::to_string(capacity) +
                                                 " positions (lower -n, shorten the prompt or raise --ctx)"));
    }
    kv_blocks += (prompt_size + options.max_tokens + runtime::kv_pool::kDefaultBlockPositions - 1) /
                 runtime::kv_pool::kDefaultBlockPositions;
  }

  scheduler::SchedulerOptions scheduling;
  scheduling.max_sequences = static_cast<int64_t>(streams.size());
  scheduling.prefill_chunk = kPrefillChunk;
  scheduling.step_token_budget = scheduling.max_sequences + kPrefillChunk;
  scheduling.kv_blocks = kv_blocks;
  auto created = scheduler::Scheduler::create(*batched, scheduling);
  if (!created) return report_error("generate", created.error());
  std::unique_ptr<scheduler::Scheduler> batcher = std::move(*created);

  scheduler::SequenceOptions sequence;
  sequence.sampling = options.sampling;
  sequence.max_tokens = options.max_tokens;
  for (int32_t id = 0; id < static_cast<int32_t>(tokenizer.size()); ++id) {
    if (tokenizer.is_end_of_generation(id)) sequence.stop_tokens.push_back(id);
  }
  const auto start = Clock::now();
  for (size_t k = 0; k < streams.size(); ++k) {
    auto id = batcher->start(streams[k].prompt, sequence);
    if (!id) return report_error("generate: prompt " + std::to_string(k + 1), id.error());
    streams[k].id = *id;
    streams[k].decoder.emplace(tokenizer, tokenizer::StreamingDecoder::Boundary::kGraphemeCluster,
                               tokenizer::DecodeOptions{.skip_special = true, .strip_dummy_prefix = false});
  }
  // Round-robin: the first read of a round steps every sequence, the others find their token.
  for (size_t left = streams.size(); left > 0;) {
    for (size_t k = 0; k < streams.size(); ++k) {
      Stream& stream = streams[k];
      if (stream.finished) continue;
      auto next = batcher->next_token(stream.id);
      if (!next) return report_error("generate: prompt " + std::to_string(k + 1), next.error());
      ++stream.generated;
      // As Session::generate: an end-of-generation token ends the text and is not printed.
      if (next->stop_reason != runtime::StopReason::kEndOfGeneration) {
        auto text = stream.decoder->push(next->token);
        if (!text) return report_error("generate: prompt " + std::to_string(k + 1), text.error());
        stream.text += *text;
      } else {
        stream.stop_reason = "end of generation token";
      }
      if (next->finished) {
        stream.finished = true;
        stream.text += stream.decoder->finish();
        --left;
      }
    }
  }
  const double elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  const scheduler::SchedulerStats stats = batcher->stats();

  for (size_t k = 0; k < streams.size(); ++k) {
    std::string block = "### prompt " + std::to_string(k + 1) + "\n" + streams[k].text + "\n";
    std::fwrite(block.data(), 1, block.size(), stdout);
  }
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return report_stdout_failure("generate", errno);
  int64_t prompt_tokens = 0;
  int64_t generated = 0;
  for (size_t k = 0; k < streams.size(); ++k) {
    std::fprintf(stderr, "prompt %zu: %zu prompt tokens, generated %lld tokens | stop: %s\n", k + 1,
                 streams[k].prompt.size(), static_cast<long long>(streams[k].generated),
                 streams[k].stop_reason.c_str());
    prompt_tokens += static_cast<int64_t>(streams[k].prompt.size());
    generated += streams[k].generated;
  }
  std::fprintf(
      stderr,
      "model %s (%s), backend %s, %zu sequences at once\n"
      "load %.0f ms | prompts %lld tokens, generated %lld tokens, %.0f ms (%.1f tok/s in all) | %lld "
      "steps, largest %lld sequences | KV pool %s\n",
      batched->config().name.c_str(), batched->config().architecture.c_str(), run.backend_name.c_str(),
      streams.size(), run.load_ms, static_cast<long long>(prompt_tokens), static_cast<long long>(generated),
      elapsed_ms, generated * 1000.0 / std::max(elapsed_ms, 1e-3), static_cast<long long>(stats.steps),
      static_cast<long long>(stats.largest_step_entries), batcher->kv_plan().describe().c_str());
  for (const Stream& stream : streams) {
    if (auto released = batcher->release(stream.id); !released)
      return report_error("generate", released.error());
  }
  return 0;
}

}  // namespace llama_worker::cli
