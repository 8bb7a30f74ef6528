// Quantized matrix product on the device: y[t][o] = sum_i x[t][i] * W[o][i] (+ bias[o])
// (+ residual[t][o]). The twin of kernels/cpu/matmul.hpp (matmul_f32).
//
// W stays in its stored GGUF encoding and is decoded in registers (quant_blocks.cuh): every
// weight byte is read once per group of up to kMaxTokensPerPass tokens. One warp computes one
// output feature for a group of tokens; lanes stride over 8-element chunks of the row and the
// 32 partial sums are combined by a fixed butterfly, so results do not depend on timing.
//
// One token with a Q4_K, Q6_K, Q5_0 or Q8_0 matrix takes the decode kernel of quant_gemv.cuh
// instead (wide loads, rows per warp); its sums are grouped differently, within the same NMSE budget
// (never_gemv turns that off).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::kernels::cuda {

struct QuantMatmulParams {
  float* y = nullptr;               // (tokens, out_features) fp32, row stride y_stride
  const float* x = nullptr;         // (tokens, in_features) fp32, row stride x_stride
  const uint8_t* weight = nullptr;  // out_features rows of weight_row_bytes bytes, device memory
  gguf::TensorType weight_type = gguf::TensorType::kF32;
  int64_t weight_row_bytes = 0;     // gguf::row_bytes(weight_type, in_features)
  const float* bias = nullptr;      // (out_features) or null
  const float* residual = nullptr;  // (tokens, out_features) added after the product, or null; may alias y
  int64_t tokens = 0;
  int64_t in_features = 0;   // GGUF shape[0]
  int64_t out_features = 0;  // GGUF shape[1]
  int64_t x_stride = 0;      // elements between rows of x (0: in_features)
  int64_t y_stride = 0;      // elements between rows of y and residual (0: out_features)
  // Keep the general kernel for one token too. Its per-token arithmetic is the same whatever the
  // token count and the token's place in the call, so with this set every token's bits are
  // independent of the batch (quant_gemv_columns' fallback relies on it); without it, a call of
  // one token takes quant_gemv, whose sums are grouped differently.
  bool never_gemv = false;
  bool int8_activations = false;  // passed to quant_gemv for one token (QuantGemvParams)
};

Status quant_matmul(const QuantMatmulParams& params, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
