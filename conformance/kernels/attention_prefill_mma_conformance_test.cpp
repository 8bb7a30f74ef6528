// Tensor-core prefill attention (kernels/cuda/attention_prefill_mma.cu) against the CPU twin, and
// the invariance it promises: a query's output bits do not depend on the other queries of its
// launch (one chunk or several, any split), nor on the run.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "attention_case.hpp"
#include "conformance_util.hpp"
#include "cuda/attention.cuh"

namespace llama_worker::conformance {
namespace {

// Q and the softmax weights are rounded to fp16 (the cache holds fp16 K and V already); the CUDA-core
// path of the same cases stays within 1e-10. Measured on the H100: see the test log's NMSE lines.
constexpr double kTensorCoreAttentionBudget = 2e-6;

void check_tensor_core_attention(int64_t heads, int64_t kv_heads, int64_t head_dim, int64_t q_tokens,
                                 int64_t offset, int64_t window) {
  AttentionCase c;
  ASSERT_TRUE(c.prepare(heads, kv_heads, head_dim, q_tokens, offset, window));
  c.gpu.tensor_cores = true;
  ASSERT_TRUE(kernels::cuda::attention(c.gpu, nullptr));
  const auto first_run = *c.d_out.download();
  const double error = nmse(first_run, c.expected);
  std::printf("tensor-core attention %s: NMSE %.3g\n", c.describe().c_str(), error);
  EXPECT_LE(error, kTensorCoreAttentionBudget) << c.describe();
  // Not the CUDA-core path by accident: its error on the same inputs is orders of magnitude lower.
  kernels::cuda::AttentionParams fp32 = c.gpu;
  fp32.tensor_cores = false;
  ASSERT_TRUE(c.d_out.poison());
  ASSERT_TRUE(kernels::cuda::attention(fp32, nullptr));
  EXPECT_NE(*c.d_out.download(), first_run) << "the tensor-core path did not run: " << c.describe();
  ASSERT_TRUE(c.d_out.poison());
  ASSERT_TRUE(kernels::cuda::attention(c.gpu, nullptr));
  EXPECT_EQ(*c.d_out.download(), first_run) << "second launch, " << c.describe();
}

TEST(TensorCoreAttentionConformance, PrefillCausalGqaQwenHeads) {
  check_tensor_core_attention(14, 2, 64, 37, 0, 0);
}
TEST(TensorCoreAttentionConformance, PrefillAfterCachedTokensPhi3Heads) {
  check_tensor_core_attention(6, 3, 96, 11, 29, 0);
}
TEST(TensorCoreAttentionConformance, PrefillManyTilesLlamaHeads) {
  check_tensor_core_attention(8, 2, 128, 70, 100, 0);
}
TEST(TensorCoreAttentionConformance, PrefillManyTilesSlidingWindow) {
  check_tensor_core_attention(4, 1, 64, 100, 37, 20);
  check_tensor_core_attention(4, 2, 96, 150, 400, 300);
}
TEST(TensorCoreAttentionConformance, PrefillAtDepth) {
  check_tensor_core_attention(14, 2, 64, 130, 2000, 0);
  check_tensor_core_attention(32, 32, 96, 77, 3001, 0);
}
TEST(TensorCoreAttentionConformance, TwoQueries) { check_tensor_core_attention(4, 4, 128, 2, 63, 0); }

// The same 150 queries in one launch and in chunks cut at odd places (each chunk with its own
// positions, as a chunked prefill runs them): every output bit equal.
void check_chunk_invariance(int64_t head_dim, int64_t window) {
  AttentionCase c;
  ASSERT_TRUE(c.prepare(6, 2, head_dim, 150, 70, window));
  c.gpu.tensor_cores = true;
  ASSERT_TRUE(kernels::cuda::attention(c.gpu, nullptr));
  const auto whole = *c.d_out.download();
  ASSERT_TRUE(c.d_out.poison());
  const int64_t cuts[] = {0, 2, 37, 101, 103, 150};
  for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
    kernels::cuda::AttentionParams chunk = c.gpu;
    const int64_t begin = cuts[i];
    chunk.q_tokens = cuts[i + 1] - begin;
    chunk.q = c.gpu.q + begin * c.heads * c.head_dim;
    chunk.out = c.gpu.out + begin * c.heads * c.head_dim;
    chunk.positions = c.gpu.positions + begin;
    ASSERT_TRUE(kernels::cuda::attention(chunk, nullptr));
  }
  EXPECT_EQ(*c.d_out.download(), whole) << "chunked prefill changed bits, " << c.describe();
}

TEST(TensorCoreAttentionInvariance, ChunkedPrefillGivesTheSameBits) {
  check_chunk_invariance(64, 0);
  check_chunk_invariance(96, 0);
  check_chunk_invariance(128, 90);
}

}  // namespace
}  // namespace llama_worker::conformance
