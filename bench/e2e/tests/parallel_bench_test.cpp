// bench --parallel: the stream list, and one case on the CPU reference backend (the prefill and
// decode phases apart, the step count, the KV pool sized to the case).
#include <gtest/gtest.h>

#include "e2e/parallel_bench.hpp"
#include "gguf/file.hpp"
#include "model/testing/tiny_model.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/tests/tiny_cpu_backend.hpp"

namespace llama_worker::bench {
namespace {

TEST(ParseStreamList, AcceptsCountsFromOneTo256AndKeepsDuplicates) {
  auto counts = parse_stream_list("1,4,16,64,256,4");
  ASSERT_TRUE(counts) << counts.error().message;
  EXPECT_EQ(*counts, (std::vector<int64_t>{1, 4, 16, 64, 256, 4}));
}

TEST(ParseStreamList, RejectsWhatIsNotAStreamCount) {
  for (const char* text :
       {"0", "257", "abc", "1,", ",1", "1,,2", "-1", " 2", "2.5", "99999999999999999999"}) {
    auto counts = parse_stream_list(text);
    EXPECT_FALSE(counts) << "'" << text << "' was accepted";
    if (!counts) {
      EXPECT_EQ(counts.error().code, ErrorCode::kInvalidArgument);
      EXPECT_NE(counts.error().message.find("is not a stream count from 1 to 256"), std::string::npos)
          << counts.error().message;
    }
  }
  auto empty = parse_stream_list("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "--parallel: empty list");
}

TEST(RunParallelCase, PrefillStepThenOneDecodeStepPerToken) {
  const runtime::testing::TinyCpuModel tiny(model::testing::qwen2_spec());
  auto backend = tiny.backend({.threads = 1, .context = 32});
  ASSERT_NE(backend, nullptr);
  auto probe = make_cpu_probe(1);
  std::mt19937_64 rng(5);
  auto result = run_parallel_case(*backend, *probe, {.prompt_tokens = 9, .generate_tokens = 6, .streams = 3},
                                  /*warmup=*/true, rng);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->steps, 1 + 6);  // all three prompts in one step, then 6 steps of 3 rows
  EXPECT_EQ(result->kv_positions(), 3 * 15);
  EXPECT_EQ(result->kv_pool_blocks, 3);  // one 16-position block per stream
  EXPECT_GT(result->kv_pool_bytes, 0);
  EXPECT_GT(result->prefill_rate(), 0.0);
  EXPECT_GT(result->decode_rate(), 0.0);
  EXPECT_DOUBLE_EQ(result->decode_rate(), 3 * result->decode_rate_per_stream());

  // PP + TG + 1 must fit the context (the last sampled token's position).
  auto too_long =
      run_parallel_case(*backend, *probe, {.prompt_tokens = 20, .generate_tokens = 12, .streams = 1},
                        /*warmup=*/false, rng);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, ErrorCode::kOutOfRange);
}

}  // namespace
}  // namespace llama_worker::bench
