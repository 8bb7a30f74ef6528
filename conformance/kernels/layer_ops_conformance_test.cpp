// RMSNorm, RoPE, SwiGLU, attention (prefill and decode, GQA, sliding window) and argmax on the
// GPU against the CPU twins, on fresh random inputs at odd sizes, outputs poisoned first.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "attention_case.hpp"
#include "conformance_util.hpp"
#include "cpu/attention.hpp"
#include "cpu/rmsnorm.hpp"
#include "cpu/rope.hpp"
#include "cpu/swiglu.hpp"
#include "cuda/argmax.cuh"
#include "cuda/attention.cuh"
#include "cuda/rmsnorm.cuh"
#include "cuda/rope.cuh"
#include "cuda/swiglu.cuh"
#include "quant/half.hpp"
#include "testing/device_buffer.hpp"

namespace llama_worker::conformance {
namespace {

using kernels::testing::DeviceBuffer;

TEST(RmsnormConformance, MatchesCpuAtOddWidths) {
  for (int64_t width : {1, 7, 255, 896, 3073}) {
    const int64_t rows = 5;
    const auto x = random_floats(static_cast<size_t>(rows * width), 3.0f);
    const auto weight = random_floats(static_cast<size_t>(width));
    std::vector<float> expected(x.size());
    kernels::cpu::rmsnorm_f32(expected.data(), x.data(), weight.data(), rows, width, 1e-6f);
    DeviceBuffer<float> d_x, d_w, d_out;
    ASSERT_TRUE(d_x.upload(x));
    ASSERT_TRUE(d_w.upload(weight));
    ASSERT_TRUE(d_out.allocate(x.size()));
    ASSERT_TRUE(kernels::cuda::rmsnorm_f32(d_out.get(), d_x.get(), d_w.get(), rows, width, 1e-6f, nullptr));
    EXPECT_NMSE_BELOW(*d_out.download(), expected, 1e-12) << "width " << width;
  }
}

TEST(RopeConformance, MatchesCpuForBothStylesAndPartialRotation) {
  struct Case {
    kernels::cpu::RopeStyle cpu;
    kernels::cuda::RopeStyle gpu;
    int64_t head_dim, rotary;
    float base;
  };
  const Case cases[] = {
      {kernels::cpu::RopeStyle::kNeox, kernels::cuda::RopeStyle::kNeox, 64, 64, 1000000.0f},
      {kernels::cpu::RopeStyle::kNormal, kernels::cuda::RopeStyle::kNormal, 96, 96, 10000.0f},
      {kernels::cpu::RopeStyle::kNeox, kernels::cuda::RopeStyle::kNeox, 96, 32, 10000.0f},
      {kernels::cpu::RopeStyle::kNormal, kernels::cuda::RopeStyle::kNormal, 30, 18, 500000.0f}};
  for (const Case& c : cases) {
    const int64_t tokens = 7, heads = 3, offset = 2041;
    const auto x = random_floats(static_cast<size_t>(tokens * heads * c.head_dim));
    std::vector<float> expected = x;
    kernels::cpu::RopeParams cpu;
    cpu.x = expected.data();
    cpu.tokens = tokens;
    cpu.heads = heads;
    cpu.head_dim = c.head_dim;
    cpu.rotary_dims = c.rotary;
    cpu.position_offset = offset;
    cpu.freq_base = c.base;
    cpu.style = c.cpu;
    kernels::cpu::rope_f32(cpu);
    std::vector<int32_t> positions(tokens);
    for (int64_t t = 0; t < tokens; ++t) positions[t] = static_cast<int32_t>(offset + t);
    DeviceBuffer<float> d_x;
    DeviceBuffer<int32_t> d_positions;
    ASSERT_TRUE(d_x.upload(x));
    ASSERT_TRUE(d_positions.upload(positions));
    kernels::cuda::RopeParams gpu;
    gpu.x = d_x.get();
    gpu.positions = d_positions.get();
    gpu.tokens = tokens;
    gpu.heads = heads;
    gpu.head_dim = c.head_dim;
    gpu.rotary_dims = c.rotary;
    gpu.freq_base = c.base;
    gpu.style = c.gpu;
    ASSERT_TRUE(kernels::cuda::rope_f32(gpu, nullptr));
    EXPECT_NMSE_BELOW(*d_x.download(), expected, 1e-12)
        << "head_dim " << c.head_dim << " rotary " << c.rotary;
  }
}

TEST(SwigluConformance, MatchesCpuPlainAndFused) {
  const int64_t rows = 3, width = 1001;
  const auto fused = random_floats(static_cast<size_t>(rows * 2 * width), 2.0f);
  std::vector<float> expected(static_cast<size_t>(rows * width));
  kernels::cpu::SwigluParams cpu;
  cpu.out = expected.data();
  cpu.gate = fused.data();
  cpu.up = fused.data() + width;
  cpu.rows = rows;
  cpu.width = width;
  cpu.gate_row_stride = 2 * width;
  cpu.up_row_stride = 2 * width;
  kernels::cpu::swiglu_f32(cpu);
  DeviceBuffer<float> d_in, d_out;
  ASSERT_TRUE(d_in.upload(fused));
  ASSERT_TRUE(d_out.allocate(expected.size()));
  kernels::cuda::SwigluParams gpu;
  gpu.out = d_out.get();
  gpu.gate = d_in.get();
  gpu.up = d_in.get() + width;
  gpu.rows = rows;
  gpu.width = width;
  gpu.gate_row_stride = 2 * width;
  gpu.up_row_stride = 2 * width;
  ASSERT_TRUE(kernels::cuda::swiglu_f32(gpu, nullptr));
  EXPECT_NMSE_BELOW(*d_out.download(), expected, 1e-12);

  // In place over the gate half (the backend's layout): out row stride 2 * width.
  gpu.out = d_in.get();
  gpu.out_row_stride = 2 * width;
  ASSERT_TRUE(kernels::cuda::swiglu_f32(gpu, nullptr));
  const std::vector<float> in_place = *d_in.download();
  std::vector<float> gate_half;
  for (int64_t r = 0; r < rows; ++r) {
    gate_half.insert(gate_half.end(), in_place.begin() + r * 2 * width,
                     in_place.begin() + r * 2 * width + width);
  }
  EXPECT_NMSE_BELOW(gate_half, expected, 1e-12) << "in place";
}

// The CUDA-core paths (fp32 throughout): the remaining difference to the twin is summation order
// only. The tensor-core prefill has its own suite (attention_prefill_mma_conformance_test.cpp).
void check_attention(int64_t heads, int64_t kv_heads, int64_t head_dim, int64_t q_tokens, int64_t offset,
                     int64_t window) {
  AttentionCase c;
  ASSERT_TRUE(c.prepare(heads, kv_heads, head_dim, q_tokens, offset, window));
  const std::vector<float>& expected = c.expected;
  auto& d_out = c.d_out;
  const int64_t capacity = c.gpu.capacity;
  kernels::cuda::AttentionParams gpu = c.gpu;
  gpu.tensor_cores = false;
  const Status status = kernels::cuda::attention(gpu, nullptr);
  ASSERT_TRUE(status) << status.message();
  EXPECT_NMSE_BELOW(*d_out.download(), expected, 1e-10) << c.describe();
  if (q_tokens == 1) {  // the split-KV decode paths (per query head, and per K/V head group), same inputs
    for (const bool grouped : {true, false}) {
      DeviceBuffer<float> d_workspace;
      const int64_t floats = kernels::cuda::attention_split_workspace_floats(heads, head_dim, capacity);
      ASSERT_TRUE(d_workspace.allocate(static_cast<size_t>(floats)));  // poisoned
      ASSERT_TRUE(kernels::cuda::attention_split_workspace_reset(d_workspace.get(), heads, head_dim, capacity,
                                                                 nullptr));
      ASSERT_TRUE(d_out.poison());
      gpu.workspace = d_workspace.get();
      gpu.workspace_floats = floats;
      gpu.grouped_decode = grouped;
      const Status split_status = kernels::cuda::attention(gpu, nullptr);
      ASSERT_TRUE(split_status) << split_status.message();
      const auto first_run = *d_out.download();
      EXPECT_NMSE_BELOW(first_run, expected, 1e-10)
          << "split-KV, grouped " << grouped << ", offset " << offset << " window " << window;
      // Each launch re-arms the per-head counters: a second launch gives the same bits.
      ASSERT_TRUE(d_out.poison());
      ASSERT_TRUE(kernels::cuda::attention(gpu, nullptr));
      EXPECT_EQ(*d_out.download(), first_run) << "split-KV second launch, grouped " << grouped;
      gpu.workspace_floats = floats - 1;
      EXPECT_FALSE(kernels::cuda::attention(gpu, nullptr)) << "a short workspace must be refused";
    }
  }
}

TEST(AttentionConformance, PrefillCausalGqa) { check_attention(14, 2, 64, 37, 0, 0); }
TEST(AttentionConformance, PrefillAfterCachedTokens) { check_attention(6, 3, 96, 11, 29, 0); }
TEST(AttentionConformance, DecodeOneQueryDeepContext) { check_attention(32, 32, 96, 1, 3001, 0); }
TEST(AttentionConformance, DecodeHeadDimNotAMultipleOfEight) { check_attention(4, 2, 36, 1, 300, 0); }
TEST(AttentionConformance, SlidingWindowPrefill) { check_attention(4, 1, 40, 53, 0, 16); }
TEST(AttentionConformance, PrefillManyTilesAfterCachedTokens) { check_attention(8, 2, 128, 70, 100, 0); }
TEST(AttentionConformance, PrefillManyTilesSlidingWindow) { check_attention(4, 1, 64, 100, 37, 20); }
TEST(AttentionConformance, PrefillWideHeads) { check_attention(2, 1, 200, 33, 5, 0); }
TEST(AttentionConformance, SlidingWindowDecodePastTheWindow) { check_attention(8, 8, 64, 1, 2100, 2047); }
TEST(AttentionConformance, DecodeFirstPositionAndSliceEdges) {
  check_attention(14, 2, 64, 1, 0, 0);
  check_attention(14, 2, 64, 1, 255, 0);
  check_attention(14, 2, 64, 1, 256, 0);
  check_attention(3, 1, 128, 1, 777, 300);
}
// Long contexts through both decode kernels: many slices combined (Qwen2.5-0.5B's 14/2 heads of 64 at
// depth 20,000; more slices than the combine caches weights for; 3 and 4 query heads per K/V head).
TEST(AttentionConformance, DecodeLongContextGroupedHeads) {
  check_attention(14, 2, 64, 1, 20000, 0);
  check_attention(7, 1, 64, 1, 70000, 0);
  check_attention(6, 2, 64, 1, 3333, 1500);
  check_attention(8, 2, 128, 1, 9000, 0);
}

TEST(KvStoreConformance, WritesRowsAtTheirPositionsInHalfPrecision) {
  const int64_t kv_heads = 2, head_dim = 24, capacity = 19, tokens = 3;
  const auto k = random_floats(static_cast<size_t>(tokens * kv_heads * head_dim));
  const auto v = random_floats(k.size());
  const std::vector<int32_t> positions = {4, 5, 17};
  DeviceBuffer<float> d_k, d_v;
  DeviceBuffer<uint16_t> d_k_cache, d_v_cache;
  DeviceBuffer<int32_t> d_positions;
  ASSERT_TRUE(d_k.upload(k));
  ASSERT_TRUE(d_v.upload(v));
  ASSERT_TRUE(d_positions.upload(positions));
  ASSERT_TRUE(d_k_cache.allocate(static_cast<size_t>(capacity * kv_heads * head_dim)));
  ASSERT_TRUE(d_v_cache.allocate(static_cast<size_t>(capacity * kv_heads * head_dim)));
  kernels::cuda::KvStoreParams p;
  p.k_cache = reinterpret_cast<__half*>(d_k_cache.get());
  p.v_cache = reinterpret_cast<__half*>(d_v_cache.get());
  p.k = d_k.get();
  p.v = d_v.get();
  p.positions = d_positions.get();
  p.tokens = tokens;
  p.kv_heads = kv_heads;
  p.head_dim = head_dim;
  p.capacity = capacity;
  ASSERT_TRUE(kernels::cuda::kv_store(p, nullptr));
  const auto k_cache = *d_k_cache.download();
  const auto v_cache = *d_v_cache.download();
  const int64_t width = kv_heads * head_dim;
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t i = 0; i < width; ++i) {
      ASSERT_EQ(k_cache[positions[t] * width + i], quant::f32_to_f16(k[t * width + i]));
      ASSERT_EQ(v_cache[positions[t] * width + i], quant::f32_to_f16(v[t * width + i]));
    }
  }
  EXPECT_EQ(k_cache[0], 0xFFFF) << "rows not written must keep their poison";
}

// The fused form (RoPE over Q and K heads, then K and V written to the cache) against the
// unfused GPU ops on the same inputs: rope_f32, then kv_store. Bit-exact.
TEST(RopeConformance, FusedKvStoreMatchesRopeThenKvStore) {
  const int64_t tokens = 3, q_heads = 4, kv_heads = 2, head_dim = 40, rotary = 24, capacity = 23;
  const int64_t stride = (q_heads + 2 * kv_heads) * head_dim;  // one qkv row: Q heads, K heads, V heads
  const auto qkv = random_floats(static_cast<size_t>(tokens * stride));
  const std::vector<int32_t> positions = {9, 10, 22};
  const int64_t width = kv_heads * head_dim;
  std::vector<uint16_t> caches[2][2];  // [fused][k or v]
  std::vector<float> rotated[2];
  for (int fused = 0; fused < 2; ++fused) {
    DeviceBuffer<float> d_qkv;
    DeviceBuffer<uint16_t> d_k_cache, d_v_cache;
    DeviceBuffer<int32_t> d_positions;
    ASSERT_TRUE(d_qkv.upload(qkv));
    ASSERT_TRUE(d_positions.upload(positions));
    ASSERT_TRUE(d_k_cache.allocate(static_cast<size_t>(capacity * width)));
    ASSERT_TRUE(d_v_cache.allocate(static_cast<size_t>(capacity * width)));
    kernels::cuda::RopeParams rope;
    rope.x = d_qkv.get();
    rope.positions = d_positions.get();
    rope.tokens = tokens;
    rope.heads = q_heads + kv_heads;
    rope.head_dim = head_dim;
    rope.rotary_dims = rotary;
    rope.token_stride = stride;
    rope.freq_base = 1000000.0f;
    rope.style = kernels::cuda::RopeStyle::kNeox;
    if (fused == 1) {
      rope.k_cache = reinterpret_cast<__half*>(d_k_cache.get());
      rope.v_cache = reinterpret_cast<__half*>(d_v_cache.get());
      rope.v = d_qkv.get() + (q_heads + kv_heads) * head_dim;
      rope.kv_head_begin = q_heads;
      rope.capacity = capacity;
    }
    ASSERT_TRUE(kernels::cuda::rope_f32(rope, nullptr));
    if (fused == 0) {
      kernels::cuda::KvStoreParams store;
      store.k_cache = reinterpret_cast<__half*>(d_k_cache.get());
      store.v_cache = reinterpret_cast<__half*>(d_v_cache.get());
      store.k = d_qkv.get() + q_heads * head_dim;
      store.v = d_qkv.get() + (q_heads + kv_heads) * head_dim;
      store.positions = d_positions.get();
      store.tokens = tokens;
      store.kv_heads = kv_heads;
      store.head_dim = head_dim;
      store.capacity = capacity;
      store.k_stride = stride;
      store.v_stride = stride;
      ASSERT_TRUE(kernels::cuda::kv_store(store, nullptr));
    }
    rotated[fused] = *d_qkv.download();
    caches[fused][0] = *d_k_cache.download();
    caches[fused][1] = *d_v_cache.download();
  }
  EXPECT_EQ(rotated[0], rotated[1]);
  EXPECT_EQ(caches[0][0], caches[1][0]);
  EXPECT_EQ(caches[0][1], caches[1][1]);
  EXPECT_EQ(caches[1][0][0], 0xFFFF) << "rows not written must keep their poison";
}

TEST(ArgmaxConformance, LowestIndexOfTheMaximumAndNanDetection) {
  for (int64_t count : {1, 31, 1025, 151936}) {
    auto logits = random_floats(static_cast<size_t>(count));
    const int64_t target = count / 3;
    logits[target] = 100.0f;
    if (count > 2) logits[count - 1] = 100.0f;  // a tie later in the vector loses
    DeviceBuffer<float> d_logits;
    DeviceBuffer<int32_t> d_result;
    ASSERT_TRUE(d_logits.upload(logits));
    ASSERT_TRUE(d_result.allocate(1));
    ASSERT_TRUE(kernels::cuda::argmax_f32(d_result.get(), d_logits.get(), count, nullptr));
    EXPECT_EQ((*d_result.download())[0], target) << "count " << count;
    logits[count / 2] = NAN;
    ASSERT_TRUE(d_logits.upload(logits));
    ASSERT_TRUE(kernels::cuda::argmax_f32(d_result.get(), d_logits.get(), count, nullptr));
    EXPECT_EQ((*d_result.download())[0], -1) << "a NaN logit must not yield a token";
  }
}

// The batched step's greedy tokens: each row's lowest index of its maximum, -1 for a row with a
// NaN or an infinity (either sign), rows side by side with a stride; against a host loop.
TEST(ArgmaxConformance, RowsTakeEachRowsGreedyTokenAndRejectNonFinite) {
  const int64_t count = 32064, stride = count + 5, rows = 7;
  auto logits = random_floats(static_cast<size_t>(rows * stride));
  logits[static_cast<size_t>(1 * stride + 77)] = 50.0f;  // a tie: the lower index wins
  logits[static_cast<size_t>(1 * stride + 4000)] = 50.0f;
  logits[static_cast<size_t>(2 * stride + count - 1)] = 60.0f;  // the last logit
  logits[static_cast<size_t>(2 * stride + count)] = 1e30f;      // past the row: ignored
  logits[static_cast<size_t>(3 * stride + 10)] = NAN;
  logits[static_cast<size_t>(4 * stride + 20)] = INFINITY;
  logits[static_cast<size_t>(5 * stride + 30)] = -INFINITY;
  std::vector<int32_t> expected(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits.data() + r * stride;
    int64_t best = 0;
    bool finite = true;
    for (int64_t i = 0; i < count; ++i) {
      finite = finite && std::isfinite(row[i]);
      if (row[i] > row[best]) best = i;
    }
    expected[static_cast<size_t>(r)] = finite ? static_cast<int32_t>(best) : -1;
  }
  EXPECT_EQ(expected[1], 77);
  EXPECT_EQ(expected[2], count - 1);
  EXPECT_EQ(expected[5], -1);
  DeviceBuffer<float> d_logits;
  DeviceBuffer<int32_t> d_results;
  DeviceBuffer<uint8_t> d_workspace;
  ASSERT_TRUE(d_logits.upload(logits));
  ASSERT_TRUE(d_results.allocate(static_cast<size_t>(rows)));
  ASSERT_TRUE(d_workspace.allocate(static_cast<size_t>(kernels::cuda::argmax_rows_workspace_bytes(rows))));
  ASSERT_TRUE(kernels::cuda::argmax_rows_f32(d_results.get(), d_workspace.get(), d_logits.get(), rows, count,
                                             stride, nullptr));
  EXPECT_EQ(*d_results.download(), expected);
  // A short row (fewer logits than slices) and a bad stride.
  ASSERT_TRUE(kernels::cuda::argmax_rows_f32(d_results.get(), d_workspace.get(), d_logits.get(), 1, 5, stride,
                                             nullptr));
  EXPECT_EQ((*d_results.download())[0],
            std::max_element(logits.begin(), logits.begin() + 5) - logits.begin());
  EXPECT_EQ(kernels::cuda::argmax_rows_f32(d_results.get(), d_workspace.get(), d_logits.get(), rows, count,
                                           count - 1, nullptr)
                .code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace llama_worker::conformance
