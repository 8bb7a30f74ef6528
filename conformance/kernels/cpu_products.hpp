// The CPU side of the quantized-product conformance tests (quant_matmul_conformance_test.cpp):
// random weights encoded as a file holds them, and the reference products they are checked
// against, computed by the CPU twins (kernels::cpu::matmul_f32, kernels::cpu::swiglu_f32).
//
// cpu_product returns the matmul's Status on failure, so that each test keeps its own assertion
// on it (ASSERT in most tests, EXPECT where the test goes on). Test code only, header-only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "conformance_util.hpp"
#include "core/status.hpp"
#include "cpu/matmul.hpp"
#include "cpu/swiglu.hpp"
#include "gguf/tensor_type.hpp"
#include "quant/quantize.hpp"

namespace llama_worker::conformance {

// Random weights encoded in `type`: rows x width, as a file would hold them; row_bytes is set
// to the bytes of one encoded row.
inline std::vector<uint8_t> random_weights(gguf::TensorType type, int64_t rows, int64_t width,
                                           int64_t& row_bytes) {
  row_bytes = static_cast<int64_t>(*gguf::row_bytes(type, width));
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * row_bytes));
  for (int64_t r = 0; r < rows; ++r) {
    const auto values = random_floats(static_cast<size_t>(width), 0.05f);
    const Status status = quant::quantize_row(type, values.data(), bytes.data() + r * row_bytes, width);
    EXPECT_TRUE(status) << status.message();
  }
  return bytes;
}

// One CPU product: y = x W^T (+ bias) (+ residual).
struct CpuProduct {
  const uint8_t* weight = nullptr;  // out_features rows of weight_row_bytes bytes of weight_type
  gguf::TensorType weight_type = gguf::TensorType::kF32;
  int64_t weight_row_bytes = 0;
  const float* x = nullptr;  // (tokens, in_features)
  int64_t tokens = 1;
  int64_t in_features = 0;
  int64_t out_features = 0;
  const float* bias = nullptr;      // (out_features), or null
  const float* residual = nullptr;  // (tokens, out_features) added after the product, or null
};

// Returns y: (tokens, out_features), or the failed matmul_f32 Status.
inline Result<std::vector<float>> cpu_product(const CpuProduct& product) {
  std::vector<float> y(static_cast<size_t>(product.tokens * product.out_features));
  kernels::cpu::MatmulParams cpu;
  cpu.y = y.data();
  cpu.x = product.x;
  cpu.weight = product.weight;
  cpu.weight_type = product.weight_type;
  cpu.weight_row_bytes = product.weight_row_bytes;
  cpu.bias = product.bias;
  cpu.rows = product.tokens;
  cpu.in_features = product.in_features;
  cpu.out_features = product.out_features;
  const Status status = kernels::cpu::matmul_f32(cpu);
  if (!status) return status;
  if (product.residual != nullptr) {
    for (size_t i = 0; i < y.size(); ++i) y[i] += product.residual[i];
  }
  return y;
}

// silu(gate) * up for one row of `gate.size()` features (gate and up the same size).
inline std::vector<float> cpu_swiglu(const std::vector<float>& gate, const std::vector<float>& up) {
  std::vector<float> out(gate.size());
  kernels::cpu::SwigluParams params;
  params.out = out.data();
  params.gate = gate.data();
  params.up = up.data();
  params.rows = 1;
  params.width = static_cast<int64_t>(gate.size());
  kernels::cpu::swiglu_f32(params);
  return out;
}

}  // namespace llama_worker::conformance
