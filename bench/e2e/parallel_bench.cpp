// The parallel bench loop (see parallel_bench.hpp for what is timed and why).
#include "e2e/parallel_bench.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <string>

#include "runtime/scheduler/scheduler.hpp"

namespace llama_worker::bench {

namespace {

using Clock = std::chrono::steady_clock;
namespace scheduler = runtime::scheduler;

constexpr int64_t kWarmupDecodeSteps = 16;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double rate(double tokens, double seconds) { return seconds > 0 ? tokens / seconds : 0.0; }

struct Timed {
  double prefill_seconds = 0;
  double decode_seconds = 0;
  int64_t steps = 0;
  runtime::kv_pool::KvPoolPlan plan;
  int64_t measured_pool_bytes = 0;
};

// One run of `test` through a fresh scheduler.
Result<Timed> run_once(runtime::BatchedInferenceBackend& backend, DeviceProbe& probe,
                       const ParallelCase& test, std::mt19937_64& rng) {
  const int64_t vocab = backend.config().vocab_size;
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(vocab - 1));
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(test.streams));
  for (std::vector<int32_t>& prompt : prompts) {
    prompt.resize(static_cast<size_t>(test.prompt_tokens));
    for (int32_t& id : prompt) id = pick(rng);
  }
  scheduler::SchedulerOptions options;
  options.max_sequences = test.streams;
  options.prefill_chunk = kParallelStepTokens;
  options.step_token_budget = kParallelStepTokens;
  options.run_ahead_tokens = 1;
  const int64_t positions = test.prompt_tokens + test.generate_tokens;
  options.kv_blocks =
      test.streams * ((positions + options.kv_block_positions - 1) / options.kv_block_positions);
  LW_ASSIGN_OR_RETURN(std::unique_ptr<scheduler::Scheduler> batcher,
                      scheduler::Scheduler::create(backend, options));

  scheduler::SequenceOptions sequence;
  sequence.sampling.temperature = 0;               // greedy
  sequence.max_tokens = test.generate_tokens + 1;  // the prompt's token, then TG decode steps
  // No stop tokens: every stream makes exactly its tokens, whatever the model says.
  std::vector<scheduler::SequenceId> ids;
  ids.reserve(prompts.size());

  LW_TRY(probe.synchronize());
  const Clock::time_point start = Clock::now();
  for (const std::vector<int32_t>& prompt : prompts) {
    LW_ASSIGN_OR_RETURN(scheduler::SequenceId id, batcher->start(prompt, sequence));
    ids.push_back(id);
  }
  // Prefill: with one token of run-ahead, a stream that has its first token waits to be read, so
  // step() runs out of work exactly when every prompt is done.
  while (true) {
    LW_ASSIGN_OR_RETURN(const bool ran, batcher->step());
    if (!ran) break;
  }
  LW_TRY(probe.synchronize());
  Timed timed;
  timed.prefill_seconds = seconds_since(start);
  const Clock::time_point decode_start = Clock::now();
  // Round-robin: the first read of a round steps all N streams, the other N - 1 find theirs.
  for (int64_t token = 0; token <= test.generate_tokens; ++token) {
    for (const scheduler::SequenceId id : ids) {
      LW_ASSIGN_OR_RETURN(const scheduler::SequenceToken next, batcher->next_token(id));
      if (next.finished != (token == test.generate_tokens)) {
        return make_error(ErrorCode::kInternal, "stream " + std::to_string(id) + " finished after " +
                                                    std::to_string(token + 1) + " tokens, expected " +
                                                    std::to_string(test.generate_tokens + 1));
      }
    }
  }
  LW_TRY(probe.synchronize());
  timed.decode_seconds = seconds_since(decode_start);
  timed.steps = batcher->stats().steps;
  timed.plan = batcher->kv_plan();
  timed.measured_pool_bytes = backend.measured_kv_pool_bytes();
  for (const scheduler::SequenceId id : ids) LW_TRY(batcher->release(id));
  return timed;
}

}  // namespace

double ParallelResult::prefill_rate() const {
  return rate(static_cast<double>(test.streams * test.prompt_tokens), prefill_seconds);
}
double ParallelResult::decode_rate() const {
  return rate(static_cast<double>(test.streams * test.generate_tokens), decode_seconds);
}
double ParallelResult::decode_rate_per_stream() const {
  return rate(static_cast<double>(test.generate_tokens), decode_seconds);
}
double ParallelResult::total_rate() const {
  return rate(static_cast<double>(kv_positions()), total_seconds());
}

Result<std::vector<int64_t>> parse_stream_list(std::string_view text) {
  const std::string bounds = "from 1 to " + std::to_string(kMaxParallelStreams);
  if (text.empty()) return make_error(ErrorCode::kInvalidArgument, "--parallel: empty list");
  std::vector<int64_t> counts;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    int64_t value = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || error != std::errc() || end != item.data() + item.size() || value < 1 ||
        value > kMaxParallelStreams) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--parallel: '" + std::string(item) + "' is not a stream count " + bounds);
    }
    counts.push_back(value);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return counts;
}

Result<ParallelResult> run_parallel_case(runtime::BatchedInferenceBackend& backend, DeviceProbe& probe,
                                         const ParallelCase& test, bool warmup, std::mt19937_64& rng) {
  if (test.prompt_tokens < 1 || test.generate_tokens < 1 || test.streams < 1 ||
      test.streams > kMaxParallelStreams) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "a parallel case needs a prompt and a generated token (-p and -n at least 1) and 1 to " +
            std::to_string(kMaxParallelStreams) + " streams");
  }
  const int64_t needed = test.prompt_tokens + test.generate_tokens + 1;
  if (needed > backend.context_capacity()) {
    return make_error(ErrorCode::kOutOfRange, "each stream needs " + std::to_string(needed) +
                                                  " positions (PP + TG + 1); the backend holds " +
                                                  std::to_string(backend.context_capacity()) +
                                                  " (see --ctx)");
  }
  if (warmup) {
    ParallelCase short_case = test;
    short_case.generate_tokens = std::min(test.generate_tokens, kWarmupDecodeSteps);
    LW_TRY(run_once(backend, probe, short_case, rng).status());
  }
  LW_ASSIGN_OR_RETURN(const Timed timed, run_once(backend, probe, test, rng));
  ParallelResult result;
  result.test = test;
  result.prefill_seconds = timed.prefill_seconds;
  result.decode_seconds = timed.decode_seconds;
  result.steps = timed.steps;
  result.kv_pool_blocks = timed.plan.blocks_total;
  result.kv_block_positions = timed.plan.block_positions;
  result.kv_pool_bytes = timed.plan.bytes_total;
  result.kv_pool_measured_bytes = timed.measured_pool_bytes;
  return result;
}

}  // namespace llama_worker::bench
