// Scheduler behaviours other than invariance: admission checks, run-ahead pausing, KV pool
// exhaustion at start and on growth (the others go on), cancel/release accounting, options.
#include <gtest/gtest.h>

#include "runtime/scheduler/tests/reference_run.hpp"

namespace llama_worker::runtime::scheduler {
namespace {

using runtime::testing::TinyCpuModel;
using testing::expect_same_as_alone;
using testing::LogitsRecorder;
using testing::run_alone;

std::vector<int32_t> prompt_of(int length, int salt) {
  std::vector<int32_t> tokens;
  for (int t = 0; t < length; ++t) tokens.push_back(static_cast<int32_t>((salt * 3 + t * 7) % 37));
  return tokens;
}

SequenceOptions sampled(int64_t max_tokens, uint64_t seed) {
  SequenceOptions options;
  options.max_tokens = max_tokens;
  options.sampling = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = seed};
  return options;
}

class SchedulerTest : public ::testing::Test {
 protected:
  TinyCpuModel model{model::testing::qwen2_spec()};
  std::unique_ptr<CpuBackend> backend = model.backend();

  std::unique_ptr<Scheduler> make(SchedulerOptions options) {
    auto created = Scheduler::create(*backend, std::move(options));
    EXPECT_TRUE(created) << created.error().message;
    return created ? std::move(*created) : nullptr;
  }
};

TEST_F(SchedulerTest, StartChecksItsInputs) {
  auto scheduler = make({.max_sequences = 2});
  const auto code = [&](std::vector<int32_t> prompt, SequenceOptions options) {
    auto id = scheduler->start(prompt, options);
    return id ? ErrorCode::kOk : id.error().code;
  };
  EXPECT_EQ(code({}, sampled(1, 0)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({1, 37}, sampled(1, 0)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({1, -1}, sampled(1, 0)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(prompt_of(10, 1), sampled(55, 0)), ErrorCode::kOutOfRange);  // 10 + 55 > 64
  SequenceOptions bad = sampled(1, 0);
  bad.sampling.temperature = -1.0f;
  EXPECT_EQ(code({1}, bad), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({1}, sampled(-1, 0)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(prompt_of(10, 1), sampled(54, 0)), ErrorCode::kOk);  // exactly the context
  EXPECT_EQ(code({1}, sampled(0, 0)), ErrorCode::kOk);                // finished at once
  auto third = scheduler->start(std::vector<int32_t>{1}, sampled(1, 0));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(third.error().message.find("max_sequences 2"), std::string::npos) << third.error().message;
  EXPECT_EQ(scheduler->next_token(2).error().code, ErrorCode::kOutOfRange);  // max_tokens 0
  EXPECT_EQ(scheduler->next_token(99).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(scheduler->cancel(99).code(), ErrorCode::kNotFound);
  EXPECT_EQ(scheduler->release(99).code(), ErrorCode::kNotFound);
}

TEST_F(SchedulerTest, OptionsAreChecked) {
  EXPECT_FALSE(Scheduler::create(*backend, {.max_sequences = 0}));
  EXPECT_FALSE(Scheduler::create(*backend, {.run_ahead_tokens = 0}));
  EXPECT_FALSE(Scheduler::create(*backend, {.max_sequences = 8, .step_token_budget = 8}));
  auto too_big = Scheduler::create(*backend, {.kv_max_bytes = 1024});
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, ErrorCode::kOutOfMemory);
  auto scheduler = make({.max_sequences = 3});
  EXPECT_EQ(scheduler->kv_plan().blocks_total, 3 * 4);  // ceil(64 / 16) blocks per sequence
}

TEST_F(SchedulerTest, RunAheadBufferPausesASequence) {
  auto scheduler = make({.max_sequences = 2, .run_ahead_tokens = 3});
  const SequenceId id = *scheduler->start(prompt_of(5, 2), sampled(20, 7));
  int steps = 0;
  while (*scheduler->step()) ++steps;
  EXPECT_EQ(steps, 3);  // prefill (first token), then two decode rows: three tokens buffered
  EXPECT_EQ(scheduler->stats().steps, 3);
  ASSERT_TRUE(scheduler->next_token(id));
  EXPECT_TRUE(*scheduler->step());  // room for one more
  EXPECT_FALSE(*scheduler->step());
}

TEST_F(SchedulerTest, PromptChunksStayWithinTheStepBudget) {
  auto scheduler = make({.max_sequences = 2, .prefill_chunk = 8, .step_token_budget = 6});
  const SequenceId id = *scheduler->start(prompt_of(20, 3), sampled(2, 1));
  ASSERT_TRUE(scheduler->next_token(id));
  const SchedulerStats stats = scheduler->stats();
  EXPECT_EQ(stats.steps, 4);  // 6 + 6 + 6 + 2 prompt tokens
  EXPECT_EQ(stats.rows, 20);
}

TEST_F(SchedulerTest, PoolExhaustionFailsOnlyTheSequenceThatCannotGrow) {
  // 6 blocks of 4 positions. a: prompt 12 (3 blocks), b: prompt 4 (1 block). At positions 12 and
  // 4 both take one more (0 free); at position 16 a finds no 5th block and fails alone, its blocks
  // go back, and b (decode rows run in arrival order) grows into them up to position 15.
  SchedulerOptions options{.max_sequences = 4, .kv_block_positions = 4, .kv_blocks = 6};
  LogitsRecorder recorder;
  recorder.attach(options);
  auto scheduler = make(options);
  const std::vector<int32_t> prompt_a = prompt_of(12, 4), prompt_b = prompt_of(4, 5);
  const SequenceOptions options_a = sampled(8, 11), options_b = sampled(12, 12);
  const SequenceId a = *scheduler->start(prompt_a, options_a);
  const SequenceId b = *scheduler->start(prompt_b, options_b);

  auto refused = scheduler->start(prompt_of(12, 6), sampled(1, 0));  // needs 3 blocks, 2 free
  ASSERT_FALSE(refused);
  EXPECT_TRUE(kv_pool::is_kv_pool_exhausted(refused.error())) << refused.error().message;
  EXPECT_NE(refused.error().message.find("needs 3 more blocks of 4 positions"), std::string::npos);

  std::vector<int32_t> tokens_a, tokens_b;
  std::optional<Error> failure_a;
  bool b_done = false;
  while (!failure_a || !b_done) {
    if (!failure_a) {
      auto token = scheduler->next_token(a);
      if (token) {
        tokens_a.push_back(token->token);
      } else {
        failure_a = token.error();
      }
    }
    if (!b_done) {
      auto token = scheduler->next_token(b);
      ASSERT_TRUE(token) << token.error().message;
      tokens_b.push_back(token->token);
      b_done = token->finished;
    }
  }
  EXPECT_TRUE(kv_pool::is_kv_pool_exhausted(*failure_a)) << failure_a->message;
  EXPECT_NE(failure_a->message.find("at position 16"), std::string::npos) << failure_a->message;
  EXPECT_EQ(tokens_a.size(), 5u);  // positions 12..15 fed: the prompt's token + 4 decode rows
  EXPECT_EQ(scheduler->next_token(a).error().message, failure_a->message);  // the same error again
  expect_same_as_alone(run_alone(model, prompt_a, options_a), tokens_a, recorder.rows(a), "a");
  const auto alone_b = run_alone(model, prompt_b, options_b);
  EXPECT_EQ(tokens_b.size(), alone_b.tokens.size());
  expect_same_as_alone(alone_b, tokens_b, recorder.rows(b), "b");
  EXPECT_EQ(scheduler->stats().blocks_free, 6);  // the failed and the finished sequence gave theirs back
  // Freed blocks are reused: the refused prompt fits now.
  EXPECT_TRUE(scheduler->start(prompt_of(12, 6), sampled(1, 0)));
}

TEST_F(SchedulerTest, CancelAndReleaseReturnBlocksAndSlots) {
  auto scheduler = make({.max_sequences = 2, .kv_block_positions = 4});
  const SequenceId a = *scheduler->start(prompt_of(9, 1), sampled(10, 1));
  const SequenceId b = *scheduler->start(prompt_of(3, 2), sampled(10, 2));
  ASSERT_TRUE(scheduler->next_token(a));
  EXPECT_LT(scheduler->stats().blocks_free, scheduler->stats().blocks_total);
  ASSERT_TRUE(scheduler->cancel(a));
  EXPECT_EQ(scheduler->next_token(a).error().code, ErrorCode::kCancelled);
  ASSERT_TRUE(scheduler->cancel(a));  // again: still cancelled, nothing more to free
  ASSERT_TRUE(scheduler->next_token(b));
  ASSERT_TRUE(scheduler->release(b));
  EXPECT_EQ(scheduler->next_token(b).error().code, ErrorCode::kNotFound);
  SchedulerStats stats = scheduler->stats();
  EXPECT_EQ(stats.blocks_free, stats.blocks_total);
  EXPECT_EQ(stats.sequences, 1);  // a is cancelled but not released: it holds its slot
  ASSERT_TRUE(scheduler->release(a));
  EXPECT_EQ(scheduler->stats().sequences, 0);
  EXPECT_TRUE(scheduler->start(prompt_of(3, 3), sampled(1, 3)));
  EXPECT_TRUE(scheduler->start(prompt_of(3, 4), sampled(1, 4)));
}

TEST_F(SchedulerTest, CancelAndReleaseDuringAStepDropItsResult) {
  // The observer runs on the stepping thread outside the lock, in the middle of the step: a cancel
  // (or release) there is one that arrives while the sequence is in flight.
  Scheduler* self = nullptr;
  SequenceId cancelled = 0, released = 0;
  int observed = 0;
  SchedulerOptions options{.max_sequences = 3, .kv_block_positions = 4};
  options.logits_observer = [&](SequenceId id, int64_t, std::span<const float>) {
    if (++observed == 5) {  // step 2: the first decode step of all three
      EXPECT_TRUE(self->cancel(cancelled));
      EXPECT_TRUE(self->release(released));
    }
    (void)id;
  };
  auto scheduler = make(options);
  self = scheduler.get();
  const SequenceId kept = *scheduler->start(prompt_of(6, 1), sampled(6, 1));
  cancelled = *scheduler->start(prompt_of(6, 2), sampled(6, 2));
  released = *scheduler->start(prompt_of(6, 3), sampled(6, 3));
  std::vector<int32_t> tokens;
  for (;;) {
    auto token = scheduler->next_token(kept);
    ASSERT_TRUE(token) << token.error().message;
    tokens.push_back(token->token);
    if (token->finished) break;
  }
  EXPECT_EQ(tokens, run_alone(model, prompt_of(6, 1), sampled(6, 1)).tokens);
  // The cancelled sequence keeps nothing from the step it was cancelled in (its prefill token
  // was dropped by the cancel itself), and answers kCancelled.
  auto after = scheduler->next_token(cancelled);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(scheduler->next_token(released).error().code, ErrorCode::kNotFound);
  const SchedulerStats stats = scheduler->stats();
  EXPECT_EQ(stats.blocks_free, stats.blocks_total);
  EXPECT_EQ(stats.sequences, 2);
}

}  // namespace
}  // namespace llama_worker::runtime::scheduler
