// Batch invariance through the scheduler on the CPU backend: many sequences with different
// prompts, lengths, seeds, stop tokens and arrival times, prefilled in chunks next to decode rows,
// give exactly the tokens and logits bits of each sequence run alone through forward() (one-chunk
// prefill) — pulled by one thread round-robin, or by one thread per sequence; cancelling some
// never changes the others. The step count proves the rows were batched.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <latch>
#include <thread>

#include "runtime/scheduler/tests/reference_run.hpp"

namespace llama_worker::runtime::scheduler {
namespace {

using runtime::testing::TinyCpuModel;
using testing::expect_same_as_alone;
using testing::LogitsRecorder;
using testing::ReferenceRun;
using testing::run_alone;

struct Workload {
  std::vector<int32_t> prompt;
  SequenceOptions options;
  ReferenceRun alone;
};

// Sequence i: prompt of 1..29 tokens, 3..18 tokens to generate, its own seed and temperature;
// every fourth stops at token 5 (end of generation).
std::vector<Workload> workloads(const TinyCpuModel& model, int count, int64_t vocab) {
  std::vector<Workload> result;
  for (int i = 0; i < count; ++i) {
    Workload w;
    const int length = 1 + (i * 7) % 29;
    for (int t = 0; t < length; ++t)
      w.prompt.push_back(static_cast<int32_t>((i * 11 + t * 5 + t * t) % vocab));
    w.options.max_tokens = 3 + (i * 5) % 16;
    w.options.sampling = {.temperature = 0.7f + 0.05f * static_cast<float>(i % 7),
                          .top_k = (i % 3) * 10,
                          .top_p = 1.0f,
                          .min_p = 0.0f,
                          .seed = static_cast<uint64_t>(1000 + i)};
    if (i % 4 == 3) w.options.stop_tokens = {5};
    w.alone = run_alone(model, w.prompt, w.options);
    result.push_back(std::move(w));
  }
  return result;
}

SchedulerOptions small_steps(int64_t max_sequences) {
  // Chunks of 5 prompt tokens and 4-position blocks: prompts span several steps and blocks.
  return {.max_sequences = max_sequences, .prefill_chunk = 5, .run_ahead_tokens = 2, .kv_block_positions = 4};
}

TEST(BatchInvariance, OneThreadRoundRobinWithStaggeredArrivals) {
  TinyCpuModel model(model::testing::qwen2_spec());
  auto backend = model.backend();
  const int kSequences = 48;
  const std::vector<Workload> work = workloads(model, kSequences, backend->config().vocab_size);
  SchedulerOptions options = small_steps(kSequences);
  LogitsRecorder recorder;
  recorder.attach(options);
  auto scheduler = Scheduler::create(*backend, options);
  ASSERT_TRUE(scheduler) << scheduler.error().message;

  std::vector<SequenceId> ids(kSequences, 0);
  std::vector<std::vector<int32_t>> tokens(kSequences);
  std::vector<bool> done(kSequences, false);
  int started = 0, finished = 0;
  // Half arrive at once; then one more arrives after every round, while the others decode.
  auto arrive = [&] {
    ids[started] = *(*scheduler)->start(work[started].prompt, work[started].options);
    ++started;
  };
  while (started < kSequences / 2) arrive();
  while (finished < kSequences) {
    for (int i = 0; i < started; ++i) {
      if (done[i]) continue;
      auto token = (*scheduler)->next_token(ids[i]);
      ASSERT_TRUE(token) << "sequence " << i << ": " << token.error().message;
      tokens[i].push_back(token->token);
      if (token->finished) {
        EXPECT_EQ(token->stop_reason, work[i].alone.stop) << i;
        done[i] = true;
        ++finished;
      }
    }
    if (started < kSequences) arrive();
  }
  int64_t generated = 0;
  for (int i = 0; i < kSequences; ++i) {
    EXPECT_EQ(tokens[i].size(), work[i].alone.tokens.size()) << i;
    expect_same_as_alone(work[i].alone, tokens[i], recorder.rows(ids[i]), "sequence " + std::to_string(i));
    generated += static_cast<int64_t>(tokens[i].size());
    EXPECT_EQ((*scheduler)->next_token(ids[i]).error().code, ErrorCode::kOutOfRange);
  }
  const SchedulerStats stats = (*scheduler)->stats();
  EXPECT_GT(stats.largest_step_entries, kSequences / 4);
  EXPECT_LT(stats.steps, generated / 4) << "the rows were not batched";
  EXPECT_EQ(stats.blocks_free, stats.blocks_total);  // finished sequences gave their blocks back
  std::printf("one thread: %lld tokens generated in %lld steps, %lld rows, at most %lld sequences a step\n",
              static_cast<long long>(generated), static_cast<long long>(stats.steps),
              static_cast<long long>(stats.rows), static_cast<long long>(stats.largest_step_entries));
}

TEST(BatchInvariance, OneThreadPerSequence) {
  TinyCpuModel model(model::testing::llama_spec());
  auto backend = model.backend();
  const int kSequences = 64;
  const std::vector<Workload> work = workloads(model, kSequences, backend->config().vocab_size);
  SchedulerOptions options = small_steps(kSequences);
  // A tiny-model step takes microseconds, less than waking a thread: without a gather wait the
  // first consumer back would step alone (README.md). The wait ends as soon as every paused
  // consumer took a token, so the bound is only reached when a thread is not scheduled at all.
  options.gather_wait = std::chrono::milliseconds(50);
  LogitsRecorder recorder;
  recorder.attach(options);
  auto scheduler = Scheduler::create(*backend, options);
  ASSERT_TRUE(scheduler) << scheduler.error().message;

  std::vector<SequenceId> ids(kSequences, 0);
  std::vector<std::vector<int32_t>> tokens(kSequences);
  std::vector<std::string> failures(kSequences);
  std::latch all_started(kSequences);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSequences; ++i) {
    threads.emplace_back([&, i] {
      auto id = (*scheduler)->start(work[i].prompt, work[i].options);
      if (!id) {
        failures[i] = id.error().message;
        all_started.count_down();
        return;
      }
      ids[i] = *id;
      // Every client is admitted before any pulls: on this loaded machine thread start-up takes
      // longer than a whole tiny-model generation, so without it the sequences barely overlap.
      all_started.arrive_and_wait();
      for (;;) {
        auto token = (*scheduler)->next_token(*id);
        if (!token) {
          failures[i] = token.error().message;
          return;
        }
        tokens[i].push_back(token->token);
        if (token->finished) return;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int64_t generated = 0;
  for (int i = 0; i < kSequences; ++i) {
    ASSERT_EQ(failures[i], "") << i;
    EXPECT_EQ(tokens[i].size(), work[i].alone.tokens.size()) << i;
    expect_same_as_alone(work[i].alone, tokens[i], recorder.rows(ids[i]), "sequence " + std::to_string(i));
    generated += static_cast<int64_t>(tokens[i].size());
  }
  const SchedulerStats stats = (*scheduler)->stats();
  EXPECT_LT(stats.steps, generated / 4) << "the rows were not batched";
  EXPECT_EQ(stats.blocks_free, stats.blocks_total);
  std::printf("64 threads: %lld tokens generated in %lld steps, %lld rows, at most %lld sequences a step\n",
              static_cast<long long>(generated), static_cast<long long>(stats.steps),
              static_cast<long long>(stats.rows), static_cast<long long>(stats.largest_step_entries));
}

TEST(BatchInvariance, CancellingSomeNeverChangesTheOthers) {
  TinyCpuModel model(model::testing::phi3_spec());
  auto backend = model.backend();
  const int kSequences = 16;
  const std::vector<Workload> work = workloads(model, kSequences, backend->config().vocab_size);
  SchedulerOptions options = small_steps(kSequences);
  LogitsRecorder recorder;
  recorder.attach(options);
  auto scheduler = Scheduler::create(*backend, options);
  ASSERT_TRUE(scheduler);

  std::vector<SequenceId> ids;
  for (const Workload& w : work) ids.push_back(*(*scheduler)->start(w.prompt, w.options));
  std::vector<std::vector<int32_t>> tokens(kSequences);
  std::vector<bool> done(kSequences, false);
  int finished = 0;
  for (int round = 0; finished < kSequences; ++round) {
    for (int i = 0; i < kSequences; ++i) {
      if (done[i]) continue;
      // Every third sequence is cancelled after its second token (one is released instead).
      if (i % 3 == 0 && tokens[i].size() == 2) {
        ASSERT_TRUE(i == 6 ? (*scheduler)->release(ids[i]) : (*scheduler)->cancel(ids[i]));
        done[i] = true;
        ++finished;
        continue;
      }
      auto token = (*scheduler)->next_token(ids[i]);
      ASSERT_TRUE(token) << token.error().message;
      tokens[i].push_back(token->token);
      if (token->finished) {
        done[i] = true;
        ++finished;
      }
    }
  }
  for (int i = 0; i < kSequences; ++i) {
    expect_same_as_alone(work[i].alone, tokens[i], recorder.rows(ids[i]), "sequence " + std::to_string(i));
    if (i % 3 == 0 && work[i].alone.tokens.size() > 2) {
      EXPECT_EQ(tokens[i].size(), 2u);
      EXPECT_EQ((*scheduler)->next_token(ids[i]).error().code,
                i == 6 ? ErrorCode::kNotFound : ErrorCode::kCancelled);
    } else {
      EXPECT_EQ(tokens[i].size(), work[i].alone.tokens.size()) << i;
    }
  }
  const SchedulerStats stats = (*scheduler)->stats();
  EXPECT_EQ(stats.blocks_free, stats.blocks_total);
  EXPECT_EQ(stats.sequences, kSequences - 1);
}

}  // namespace
}  // namespace llama_worker::runtime::scheduler
