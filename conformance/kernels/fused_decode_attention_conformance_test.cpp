// The fused decode step (RoPE by table lookup + KV store inside the split-KV attention launch)
// against the unfused kernels it replaces (rope_f32 with its KV store, then split-KV attention),
// which the rest of the suite checks against the CPU twins: same output and same cache rows, bit
// for bit. The fused run's cache row at the query's position starts as NaN, so reading it
// instead of the freshly rotated key would show.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "conformance_util.hpp"
#include "cuda/attention.cuh"
#include "cuda/rope.cuh"
#include "quant/half.hpp"
#include "testing/device_buffer.hpp"

namespace llama_worker::conformance {
namespace {

using kernels::testing::DeviceBuffer;

struct FusedCase {
  int64_t heads, kv_heads, head_dim, rotary;
  kernels::cuda::RopeStyle style;
  int64_t position;
};

struct StepResult {
  std::vector<float> out;
  std::vector<uint16_t> k_cache, v_cache;
};

void run_case(const FusedCase& c, bool grouped) {
  const int64_t capacity = c.position + 4;
  const int64_t qw = c.heads * c.head_dim, kvw = c.kv_heads * c.head_dim, qkv = qw + 2 * kvw;
  const auto raw = random_floats(static_cast<size_t>(qkv));
  std::vector<uint16_t> cache(static_cast<size_t>(capacity * kvw), 0x7E00);  // NaN from the query's row on
  for (int64_t i = 0; i < c.position * kvw; ++i)
    cache[static_cast<size_t>(i)] = quant::f32_to_f16(random_floats(1)[0]);
  const std::vector<int32_t> positions = {static_cast<int32_t>(c.position)};
  const float base = 10000.0f;

  auto step = [&](bool fused) -> StepResult {
    DeviceBuffer<float> d_qkv, d_out, d_workspace;
    DeviceBuffer<uint16_t> d_k, d_v;
    DeviceBuffer<int32_t> d_positions;
    DeviceBuffer<float2> d_table;
    EXPECT_TRUE(d_qkv.upload(raw));
    EXPECT_TRUE(d_k.upload(cache));
    EXPECT_TRUE(d_v.upload(cache));
    EXPECT_TRUE(d_positions.upload(positions));
    EXPECT_TRUE(d_out.allocate(static_cast<size_t>(qw)));
    const int64_t floats = kernels::cuda::attention_split_workspace_floats(c.heads, c.head_dim, capacity);
    EXPECT_TRUE(d_workspace.allocate(static_cast<size_t>(floats)));
    EXPECT_TRUE(kernels::cuda::attention_split_workspace_reset(d_workspace.get(), c.heads, c.head_dim,
                                                               capacity, nullptr));
    auto* k_cache = reinterpret_cast<__half*>(d_k.get());
    auto* v_cache = reinterpret_cast<__half*>(d_v.get());
    kernels::cuda::AttentionParams a;
    a.out = d_out.get();
    a.q = d_qkv.get();
    a.k_cache = k_cache;
    a.v_cache = v_cache;
    a.positions = d_positions.get();
    a.q_tokens = 1;
    a.heads = c.heads;
    a.kv_heads = c.kv_heads;
    a.head_dim = c.head_dim;
    a.capacity = capacity;
    a.workspace = d_workspace.get();
    a.workspace_floats = floats;
    a.grouped_decode = grouped;
    if (fused) {
      EXPECT_TRUE(d_table.allocate(static_cast<size_t>(capacity * c.rotary / 2)));
      EXPECT_TRUE(kernels::cuda::rope_table_fill(d_table.get(), capacity, c.rotary, base, 1.0f, nullptr));
      a.rope_table = d_table.get();
      a.rotary_dims = c.rotary;
      a.rope_style = c.style;
      a.new_k = d_qkv.get() + qw;
      a.new_v = d_qkv.get() + qw + kvw;
      a.k_store = k_cache;
      a.v_store = v_cache;
    } else {
      kernels::cuda::RopeParams r;
      r.x = d_qkv.get();
      r.positions = d_positions.get();
      r.tokens = 1;
      r.heads = c.heads + c.kv_heads;
      r.head_dim = c.head_dim;
      r.rotary_dims = c.rotary;
      r.token_stride = qkv;
      r.freq_base = base;
      r.style = c.style;
      r.k_cache = k_cache;
      r.v_cache = v_cache;
      r.v = d_qkv.get() + qw + kvw;
      r.kv_head_begin = c.heads;
      r.capacity = capacity;
      EXPECT_TRUE(kernels::cuda::rope_f32(r, nullptr));
    }
    const Status status = kernels::cuda::attention(a, nullptr);
    EXPECT_TRUE(status) << status.message();
    return {*d_out.download(), *d_k.download(), *d_v.download()};
  };

  const StepResult unfused = step(false);
  const StepResult fused = step(true);
  EXPECT_EQ(fused.out, unfused.out) << "heads " << c.heads << "/" << c.kv_heads << " dim " << c.head_dim
                                    << " position " << c.position << " grouped " << grouped;
  EXPECT_EQ(fused.k_cache, unfused.k_cache) << "K cache, position " << c.position;
  EXPECT_EQ(fused.v_cache, unfused.v_cache) << "V cache, position " << c.position;
  for (float value : fused.out) ASSERT_TRUE(std::isfinite(value)) << "a stale cache row was read";
}

TEST(FusedDecodeAttention, SameBitsAsRopeThenAttention) {
  using kernels::cuda::RopeStyle;
  const FusedCase cases[] = {
      {14, 2, 64, 64, RopeStyle::kNeox, 0},    {14, 2, 64, 64, RopeStyle::kNeox, 255},
      {14, 2, 64, 64, RopeStyle::kNeox, 256},  {14, 2, 64, 64, RopeStyle::kNeox, 2100},
      {32, 32, 96, 96, RopeStyle::kNeox, 777}, {8, 2, 128, 128, RopeStyle::kNormal, 300},
      {4, 2, 36, 18, RopeStyle::kNormal, 513}, {6, 3, 96, 32, RopeStyle::kNeox, 40},
  };
  for (const FusedCase& c : cases) {
    run_case(c, true);   // grouped-query heads served per K/V head where the kernel takes them
    run_case(c, false);  // one block per query head
  }
}

TEST(FusedDecodeAttention, RefusesAFusedRopeWithoutItsInputs) {
  DeviceBuffer<float> d_q;
  ASSERT_TRUE(d_q.allocate(64));
  kernels::cuda::AttentionParams a;
  a.out = d_q.get();
  a.q = d_q.get();
  a.k_cache = reinterpret_cast<const __half*>(d_q.get());
  a.v_cache = reinterpret_cast<const __half*>(d_q.get());
  a.positions = reinterpret_cast<const int32_t*>(d_q.get());
  a.q_tokens = 1;
  a.heads = a.kv_heads = 1;
  a.head_dim = 64;
  a.capacity = 4;
  a.rope_table = reinterpret_cast<const float2*>(d_q.get());  // but no workspace, new K/V or stores
  a.rotary_dims = 64;
  const Status status = kernels::cuda::attention(a, nullptr);
  EXPECT_FALSE(status);
  EXPECT_NE(status.message().find("fused RoPE"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace llama_worker::conformance
