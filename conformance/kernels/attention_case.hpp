// One attention conformance case, shared by the CUDA-core and tensor-core suites: fresh random
// Q, K, V (K and V rounded to fp16 before the CPU twin sees them, as the GPU cache stores them;
// cache rows past the sequence are NaN), the CPU twin's output, and the device buffers and
// parameters of the same problem with the output poisoned.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "conformance_util.hpp"
#include "cpu/attention.hpp"
#include "cuda/attention.cuh"
#include "quant/half.hpp"
#include "testing/device_buffer.hpp"

namespace llama_worker::conformance {

struct AttentionCase {
  int64_t heads = 0, kv_heads = 0, head_dim = 0, q_tokens = 0, offset = 0, window = 0;
  std::vector<float> expected;  // the CPU twin: (q_tokens, heads, head_dim)
  kernels::testing::DeviceBuffer<float> d_q, d_out;
  kernels::testing::DeviceBuffer<uint16_t> d_k, d_v;
  kernels::testing::DeviceBuffer<int32_t> d_positions;
  kernels::cuda::AttentionParams gpu;  // the whole problem, output poisoned

  // Fills everything; returns false (with a gtest failure) when a device step fails.
  bool prepare(int64_t heads_, int64_t kv_heads_, int64_t head_dim_, int64_t q_tokens_, int64_t offset_,
               int64_t window_) {
    heads = heads_, kv_heads = kv_heads_, head_dim = head_dim_, q_tokens = q_tokens_, offset = offset_,
    window = window_;
    const int64_t kv_tokens = offset + q_tokens;
    const int64_t capacity = kv_tokens + 3;
    const auto q = random_floats(static_cast<size_t>(q_tokens * heads * head_dim));
    auto k = random_floats(static_cast<size_t>(kv_tokens * kv_heads * head_dim));
    auto v = random_floats(static_cast<size_t>(kv_tokens * kv_heads * head_dim));
    std::vector<uint16_t> k_half(static_cast<size_t>(capacity * kv_heads * head_dim),
                                 0x7E00);  // NaN past the end
    std::vector<uint16_t> v_half(k_half.size(), 0x7E00);
    for (size_t i = 0; i < k.size(); ++i) {
      k_half[i] = quant::f32_to_f16(k[i]);
      v_half[i] = quant::f32_to_f16(v[i]);
      k[i] = quant::f16_to_f32(k_half[i]);
      v[i] = quant::f16_to_f32(v_half[i]);
    }
    expected.assign(q.size(), 0.0f);
    kernels::cpu::AttentionParams cpu;
    cpu.out = expected.data();
    cpu.q = q.data();
    cpu.k = k.data();
    cpu.v = v.data();
    cpu.q_tokens = q_tokens;
    cpu.kv_tokens = kv_tokens;
    cpu.heads = heads;
    cpu.kv_heads = kv_heads;
    cpu.head_dim = head_dim;
    cpu.q_position_offset = offset;
    cpu.sliding_window = window;
    kernels::cpu::attention_f32(cpu);

    std::vector<int32_t> positions(static_cast<size_t>(q_tokens));
    for (int64_t t = 0; t < q_tokens; ++t)
      positions[static_cast<size_t>(t)] = static_cast<int32_t>(offset + t);
    const bool uploaded = d_q.upload(q) && d_k.upload(k_half) && d_v.upload(v_half) &&
                          d_positions.upload(positions) && d_out.allocate(q.size());
    EXPECT_TRUE(uploaded) << "device buffers";
    if (!uploaded) return false;
    gpu = {};
    gpu.out = d_out.get();
    gpu.q = d_q.get();
    gpu.k_cache = reinterpret_cast<const __half*>(d_k.get());
    gpu.v_cache = reinterpret_cast<const __half*>(d_v.get());
    gpu.positions = d_positions.get();
    gpu.q_tokens = q_tokens;
    gpu.heads = heads;
    gpu.kv_heads = kv_heads;
    gpu.head_dim = head_dim;
    gpu.capacity = capacity;
    gpu.sliding_window = window;
    return true;
  }

  std::string describe() const {
    return "heads " + std::to_string(heads) + "/" + std::to_string(kv_heads) + " dim " +
           std::to_string(head_dim) + " q " + std::to_string(q_tokens) + " offset " + std::to_string(offset) +
           " window " + std::to_string(window);
  }
};

}  // namespace llama_worker::conformance
