// CpuBackend::forward_batch: an entry's logits are bit-identical to forward() on its sequence
// alone, whatever the other entries are (decode rows, prefill chunks, scattered block tables), on
// every architecture; a bad batch is refused before it writes anything.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "runtime/kv_pool/block_pool.hpp"
#include "runtime/tests/tiny_cpu_backend.hpp"

namespace llama_worker::runtime {
namespace {

using testing::logits_alone;
using testing::TinyCpuModel;

struct Stream {
  std::vector<int32_t> tokens;  // everything this sequence will ever feed
  std::vector<int64_t> chunks;  // tokens fed at step s (0: not in step s)
  kv_pool::BlockTable table = {};
  int64_t fed = 0;
};

std::vector<int32_t> token_stream(int64_t length, int32_t seed, int64_t vocab) {
  std::vector<int32_t> tokens;
  for (int64_t i = 0; i < length; ++i)
    tokens.push_back(static_cast<int32_t>((seed * 7 + i * 13 + i * i) % vocab));
  return tokens;
}

kv_pool::KvPoolPlan small_block_plan(const CpuBackend& backend, int64_t sequences) {
  auto plan = kv_pool::plan_kv_pool({.geometry = backend.kv_geometry(),
                                     .max_sequences = sequences,
                                     .context = backend.context_capacity(),
                                     .block_positions = 4});
  EXPECT_TRUE(plan) << plan.error().message;
  return *plan;
}

bool same_bits(const float* a, const float* b, int64_t count) {
  return std::memcmp(a, b, sizeof(float) * count) == 0;
}

class EveryArchitecture : public ::testing::TestWithParam<model::testing::TinyModelSpec> {};

// Three sequences arriving at different steps, prefilled in chunks next to decode rows, with
// their blocks taken interleaved so no table is contiguous.
TEST_P(EveryArchitecture, MixedBatchesEqualEachSequenceAlone) {
  TinyCpuModel model(GetParam());
  auto backend = model.backend();
  const int64_t vocab = backend->config().vocab_size;
  std::vector<Stream> streams(3);
  streams[0].tokens = token_stream(13, 1, vocab);
  streams[0].chunks = {4, 5, 1, 1, 1, 1, 0};
  streams[1].tokens = token_stream(9, 2, vocab);
  streams[1].chunks = {5, 1, 1, 1, 0, 1, 0};
  streams[2].tokens = token_stream(25, 3, vocab);
  streams[2].chunks = {0, 7, 13, 1, 1, 1, 2};
  const kv_pool::KvPoolPlan plan = small_block_plan(*backend, 3);
  ASSERT_TRUE(backend->allocate_kv_blocks(plan));
  kv_pool::BlockPool pool(plan);

  std::vector<std::vector<float>> alone;
  for (const Stream& s : streams) alone.push_back(logits_alone(model, s.tokens));

  std::vector<float> logits;
  for (size_t step = 0; step < streams[0].chunks.size(); ++step) {
    std::vector<BatchEntry> entries;
    std::vector<size_t> owners;
    for (size_t i = 0; i < streams.size(); ++i) {
      Stream& s = streams[i];
      const int64_t n = s.chunks[step];
      if (n == 0) continue;
      ASSERT_TRUE(pool.take_for_positions(s.table, s.fed + n));
      entries.push_back(
          {.tokens = std::span(s.tokens).subspan(static_cast<size_t>(s.fed), static_cast<size_t>(n)),
           .start_position = s.fed,
           .block_table = s.table.blocks()});
      owners.push_back(i);
    }
    Status status = backend->forward_batch(entries, logits);
    ASSERT_TRUE(status) << status.message();
    ASSERT_EQ(logits.size(), entries.size() * static_cast<size_t>(vocab));
    for (size_t e = 0; e < entries.size(); ++e) {
      Stream& s = streams[owners[e]];
      const int64_t last = s.fed + s.chunks[step] - 1;
      EXPECT_TRUE(same_bits(logits.data() + e * vocab, alone[owners[e]].data() + last * vocab, vocab))
          << "step " << step << " sequence " << owners[e] << " position " << last;
      s.fed += s.chunks[step];
    }
  }
  for (const Stream& s : streams) EXPECT_EQ(s.fed, static_cast<int64_t>(s.tokens.size()));
}

TEST_P(EveryArchitecture, EntriesWithoutLogitsAreLeftOut) {
  TinyCpuModel model(GetParam());
  auto backend = model.backend();
  const int64_t vocab = backend->config().vocab_size;
  const kv_pool::KvPoolPlan plan = small_block_plan(*backend, 2);
  ASSERT_TRUE(backend->allocate_kv_blocks(plan));
  kv_pool::BlockPool pool(plan);
  const std::vector<int32_t> a = token_stream(6, 4, vocab), b = token_stream(3, 5, vocab);
  kv_pool::BlockTable ta, tb;
  ASSERT_TRUE(pool.take_for_positions(ta, 6));
  ASSERT_TRUE(pool.take_for_positions(tb, 3));
  const BatchEntry entries[] = {{.tokens = a, .block_table = ta.blocks(), .logits = false},
                                {.tokens = b, .block_table = tb.blocks(), .logits = true}};
  std::vector<float> logits;
  ASSERT_TRUE(backend->forward_batch(entries, logits));
  ASSERT_EQ(logits.size(), static_cast<size_t>(vocab));
  EXPECT_TRUE(same_bits(logits.data(), logits_alone(model, b).data() + 2 * vocab, vocab));
}

// A greedy entry gets its row's greedy token instead of the row; the other rows are unchanged and
// the tokens are those of the rows (ties: lowest id; a non-finite row: kGreedyNonFinite).
TEST_P(EveryArchitecture, GreedyEntriesGetTheirRowsToken) {
  TinyCpuModel model(GetParam());
  auto backend = model.backend();
  const int64_t vocab = backend->config().vocab_size;
  const kv_pool::KvPoolPlan plan = small_block_plan(*backend, 3);
  ASSERT_TRUE(backend->allocate_kv_blocks(plan));
  kv_pool::BlockPool pool(plan);
  const std::vector<int32_t> a = token_stream(6, 4, vocab), b = token_stream(3, 5, vocab),
                             c = token_stream(5, 6, vocab);
  kv_pool::BlockTable ta, tb, tc;
  ASSERT_TRUE(pool.take_for_positions(ta, 6));
  ASSERT_TRUE(pool.take_for_positions(tb, 3));
  ASSERT_TRUE(pool.take_for_positions(tc, 5));
  std::vector<BatchEntry> entries = {{.tokens = a, .block_table = ta.blocks()},
                                     {.tokens = b, .block_table = tb.blocks()},
                                     {.tokens = c, .block_table = tc.blocks()}};
  std::vector<float> rows;
  ASSERT_TRUE(backend->forward_batch(entries, rows));
  ASSERT_EQ(rows.size(), 3 * static_cast<size_t>(vocab));
  // The same batch again (the same K/V rewritten), the first and last entries greedy.
  entries[0].greedy = entries[2].greedy = true;
  EXPECT_EQ(backend->forward_batch(entries, rows).code(), ErrorCode::kInvalidArgument)
      << "greedy entries need the tokens' output";
  std::vector<float> logits;
  std::vector<int32_t> greedy;
  ASSERT_TRUE(backend->forward_batch(entries, logits, greedy));
  ASSERT_EQ(greedy.size(), 2u);
  EXPECT_EQ(greedy[0], greedy_token(std::span<const float>(rows.data(), vocab)));
  EXPECT_EQ(greedy[1], greedy_token(std::span<const float>(rows.data() + 2 * vocab, vocab)));
  ASSERT_EQ(logits.size(), static_cast<size_t>(vocab));
  EXPECT_TRUE(same_bits(logits.data(), rows.data() + vocab, vocab));
}

TEST(BatchedForward, GreedyTokenIsTheLowestIdOfTheMaximumOrNonFinite) {
  std::vector<float> row = {0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(greedy_token(row), 1);
  row[3] = 2.5f;
  EXPECT_EQ(greedy_token(row), 3);
  row[0] = -INFINITY;
  EXPECT_EQ(greedy_token(row), kGreedyNonFinite);
  row[0] = NAN;
  EXPECT_EQ(greedy_token(row), kGreedyNonFinite);
  EXPECT_EQ(greedy_token({}), kGreedyNonFinite);
  // split_greedy_rows keeps the other rows in order.
  const std::vector<BatchEntry> entries = {{.greedy = true}, {.logits = false}, {}, {.greedy = true}};
  std::vector<float> logits = {1, 3, 2, 7, 8, 9, 0, 5, 4};  // three rows of 3
  std::vector<int32_t> greedy;
  split_greedy_rows(entries, 3, logits, greedy);
  EXPECT_EQ(greedy, (std::vector<int32_t>{1, 1}));
  EXPECT_EQ(logits, (std::vector<float>{7, 8, 9}));
}

// The decode rows of a step are the same bits with or without a prefill chunk beside them (and
// wherever that chunk sits in the batch).
TEST_P(EveryArchitecture, PrefillChunkInTheStepChangesNoDecodeRow) {
  TinyCpuModel model(GetParam());
  const int64_t vocab = model::testing::TinyModelSpec(GetParam()).vocab;
  const std::vector<int32_t> a = token_stream(8, 7, vocab), b = token_stream(5, 8, vocab),
                             c = token_stream(9, 9, vocab);
  std::vector<std::vector<float>> decode_rows;
  for (int layout = 0; layout < 3; ++layout) {  // 0: decode rows only; 1: chunk first; 2: chunk between
    auto backend = model.backend();
    const kv_pool::KvPoolPlan plan = small_block_plan(*backend, 3);
    ASSERT_TRUE(backend->allocate_kv_blocks(plan));
    kv_pool::BlockPool pool(plan);
    kv_pool::BlockTable ta, tb, tc;
    ASSERT_TRUE(pool.take_for_positions(ta, 8));
    ASSERT_TRUE(pool.take_for_positions(tb, 5));
    ASSERT_TRUE(pool.take_for_positions(tc, 9));
    std::vector<float> logits;
    const BatchEntry prefill[] = {{.tokens = std::span(a).first(7), .block_table = ta.blocks()},
                                  {.tokens = std::span(b).first(4), .block_table = tb.blocks()}};
    ASSERT_TRUE(backend->forward_batch(prefill, logits));
    const BatchEntry da{.tokens = std::span(a).subspan(7), .start_position = 7, .block_table = ta.blocks()};
    const BatchEntry db{.tokens = std::span(b).subspan(4), .start_position = 4, .block_table = tb.blocks()};
    const BatchEntry chunk{.tokens = c, .block_table = tc.blocks(), .logits = false};
    std::vector<BatchEntry> step = {da, db};
    if (layout == 1) step.insert(step.begin(), chunk);
    if (layout == 2) step.insert(step.begin() + 1, chunk);
    ASSERT_TRUE(backend->forward_batch(step, logits));
    ASSERT_EQ(logits.size(), 2 * static_cast<size_t>(vocab));
    decode_rows.push_back(logits);
  }
  for (int layout = 1; layout < 3; ++layout) {
    EXPECT_TRUE(same_bits(decode_rows[layout].data(), decode_rows[0].data(), 2 * vocab))
        << "layout " << layout;
  }
}

INSTANTIATE_TEST_SUITE_P(Tiny, EveryArchitecture,
                         ::testing::Values(model::testing::llama_spec(), model::testing::qwen2_spec(),
                                           model::testing::phi3_spec()),
                         [](const ::testing::TestParamInfo<model::testing::TinyModelSpec>& param_info) {
                           return param_info.param.architecture;
                         });

TEST(BatchedForward, BadBatchesAreRefusedBeforeWritingAnything) {
  TinyCpuModel model(model::testing::qwen2_spec());
  auto backend = model.backend();
  const int64_t vocab = backend->config().vocab_size;
  const std::vector<int32_t> a = token_stream(10, 6, vocab);
  std::vector<float> logits;
  kv_pool::BlockTable ta, tb;
  const BatchEntry no_pool[] = {{.tokens = a, .block_table = {}}};
  EXPECT_EQ(backend->forward_batch(no_pool, logits).code(), ErrorCode::kInvalidArgument);

  const kv_pool::KvPoolPlan plan = small_block_plan(*backend, 2);
  ASSERT_TRUE(backend->allocate_kv_blocks(plan));
  kv_pool::BlockPool pool(plan);
  ASSERT_TRUE(pool.take_for_positions(ta, 9));
  ASSERT_TRUE(pool.take_for_positions(tb, 4));
  const BatchEntry prefill[] = {{.tokens = std::span(a).first(9), .block_table = ta.blocks()}};
  ASSERT_TRUE(backend->forward_batch(prefill, logits));

  // Each bad batch starts with an entry that would overwrite a's positions 2..4 with other tokens.
  const std::vector<int32_t> garbage = {0, 0, 0}, four = {1, 2, 3, 4},
                             outside = {1, static_cast<int32_t>(vocab)};
  const std::vector<int32_t> shared = {ta.blocks()[0]}, foreign = {static_cast<int32_t>(plan.blocks_total)};
  const BatchEntry overwrite{.tokens = garbage, .start_position = 2, .block_table = ta.blocks()};
  struct Case {
    BatchEntry bad;
    ErrorCode code;
    const char* message;
  };
  const Case cases[] = {
      {{.tokens = four, .start_position = 1, .block_table = tb.blocks()},
       ErrorCode::kInvalidArgument,
       "hold 4"},
      {{.tokens = outside, .block_table = tb.blocks()},
       ErrorCode::kInvalidArgument,
       "outside the vocabulary"},
      {{.tokens = four, .block_table = shared}, ErrorCode::kInvalidArgument, "in two block tables"},
      {{.tokens = four, .block_table = foreign}, ErrorCode::kInvalidArgument, "outside the pool"},
      {{.tokens = four, .start_position = backend->context_capacity() - 2, .block_table = tb.blocks()},
       ErrorCode::kOutOfRange,
       "exceed the context"},
      {{.tokens = {}, .block_table = tb.blocks()}, ErrorCode::kInvalidArgument, "no tokens"},
  };
  for (const Case& c : cases) {
    const BatchEntry batch[] = {overwrite, c.bad};
    Status status = backend->forward_batch(batch, logits);
    ASSERT_EQ(status.code(), c.code) << c.message << ": " << status.message();
    EXPECT_NE(status.message().find(c.message), std::string::npos) << status.message();
  }
  // a's cache is untouched: its next position still matches the sequence alone.
  const BatchEntry next[] = {
      {.tokens = std::span(a).subspan(9, 1), .start_position = 9, .block_table = ta.blocks()}};
  ASSERT_TRUE(pool.take_for_positions(ta, 10));
  ASSERT_TRUE(backend->forward_batch(next, logits));
  EXPECT_TRUE(same_bits(logits.data(), logits_alone(model, a).data() + 9 * vocab, vocab));
}

TEST(BatchedForward, PlanOfAnotherGeometryIsRefused) {
  TinyCpuModel model(model::testing::llama_spec());
  auto backend = model.backend();
  kv_pool::KvPoolPlan plan = small_block_plan(*backend, 1);
  plan.geometry.kv_width += 1;
  EXPECT_EQ(backend->allocate_kv_blocks(plan).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace llama_worker::runtime
