// Matrix multiplication against a GGUF weight matrix, CPU reference:
//   y[r][o] = sum_i x[r][i] * W[o][i]  (+ bias[o])
// W is stored as in the file: out_features rows of in_features elements, each row encoded in
// `weight_type` (F32, F16, BF16, Q8_0, K-quants, ...). Each weight row is dequantized to fp32 with
// quant::dequantize_row (the bit-exact reference decoder), then dotted with every input row, so
// the math is fp32 over exactly the values the file encodes.
//
// Work is split over output features (parallel_for): each y element is produced by one thread
// with the same summation order whatever the thread count, so results are reproducible.
// The dot product keeps 8 independent fp32 partial sums (lane k sums elements i = k mod 8), added
// pairwise at the end: a fixed order that the compiler can vectorise without -ffast-math.
#pragma once

#include <cstdint>

#include "core/status.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::kernels::cpu {

struct MatmulParams {
  float* y = nullptr;               // (rows, out_features) fp32
  const float* x = nullptr;         // (rows, in_features) fp32
  const uint8_t* weight = nullptr;  // out_features rows, each weight_row_bytes bytes of weight_type
  gguf::TensorType weight_type = gguf::TensorType::kF32;
  int64_t weight_row_bytes = 0;  // bytes of one encoded weight row (gguf::row_bytes(type, in_features))
  const float* bias = nullptr;   // (out_features) fp32, or null
  int64_t rows = 0;              // tokens
  int64_t in_features = 0;       // GGUF shape[0] of the weight
  int64_t out_features = 0;      // GGUF shape[1] of the weight
  int threads = 1;               // workers over output features; 0 = all cores
};

// Fails (kUnsupported / kInvalidArgument) when the weight type cannot be dequantized or the row
// size does not match the type; y is then unspecified.
Status matmul_f32(const MatmulParams& params);

// The fixed-order fp32 dot product matmul_f32 uses (exposed for the twins and tests).
float dot_f32(const float* a, const float* b, int64_t count);

}  // namespace llama_worker::kernels::cpu
