// Quantized matrix-vector product for single-token decode: y[o] = sum_i x[i] * W[o][i]
// (+ bias[o]) (+ residual[o]), or, with a second matrix U, the fused feed-forward input
// y[o] = silu(W[o] . x) * (U[o] . x) (gate, up and SwiGLU in one pass over x); optionally with the
// RMSNorm of x fused in, and for several matrices sharing x in one launch (quant_gemv_multi).
//
// The weights stay in their stored GGUF encoding and are read once, 32 weights per lane per
// step with the widest loads the block layout allows (quant_gemv_units.cuh). One warp owns
// 2 or 4 output rows (per encoding) and reuses each 32-activation slice across them; the lanes' partial
// sums are combined by a fixed butterfly, so the result does not depend on timing.
//
// Types: Q4_K, Q6_K, Q5_0, Q8_0 (the Q4_K_M recipe's); quant_gemv_supports() says whether a
// given matrix can take this path. quant_matmul() uses it for one token and falls back to the
// general kernel otherwise.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::kernels::cuda {

struct QuantGemvParams {
  float* y = nullptr;                  // (out_features)
  const float* x = nullptr;            // (in_features), 16-byte aligned
  const uint8_t* weight = nullptr;     // out_features rows of weight_row_bytes, device memory
  const uint8_t* up_weight = nullptr;  // optional second matrix, same type and shape: SwiGLU form
  gguf::TensorType weight_type = gguf::TensorType::kF32;
  int64_t weight_row_bytes = 0;
  const float* bias = nullptr;      // (out_features) or null; not with up_weight
  const float* residual = nullptr;  // (out_features) or null, may alias y; not with up_weight
  int64_t in_features = 0;
  int64_t out_features = 0;
  // Optional fused RMSNorm: x is then the raw residual stream and each block normalises it
  // (x * (1 / sqrt(mean(x^2) + eps)) * norm_weight) before the product, saving the norm kernel.
  const float* norm_weight = nullptr;  // (in_features) or null
  float norm_eps = 0.0f;
  // Optional RMSNorm of the finished output (decode: the next product's input), not with
  // up_weight: once every block has written its rows of y, the last block to finish computes
  // norm_out = y * (1 / sqrt(mean(y^2) + norm_out_eps)) * norm_out_weight in rmsnorm_f32's exact
  // order (the same bits as that kernel run after this one), then re-arms the counter. norm_out
  // may alias x: every block has finished reading x before the last block starts the norm.
  float* norm_out = nullptr;               // (out_features) or null
  const float* norm_out_weight = nullptr;  // (out_features)
  float norm_out_eps = 0.0f;
  unsigned* norm_counter = nullptr;  // device; zero before the first launch, left zero
  // Q4_K / Q6_K rows against x quantized to int8 runs of 32 (quant_gemv_int8.cuh): several times
  // fewer instructions per weight, x rounded to ~1/250 of each run's largest value. Ignored where
  // quant_gemv_int8_supports() does not hold (other types, norm_out), which take the fp32 form.
  bool int8_activations = false;
};

// Several matrices that share one input vector (Q, K and V stored apart): one launch computes
// all of them, each into its own output with its own bias. Same norm option as above.
struct QuantGemvSegment {
  float* y = nullptr;  // (out_features)
  const uint8_t* weight = nullptr;
  gguf::TensorType weight_type = gguf::TensorType::kF32;
  int64_t weight_row_bytes = 0;
  const float* bias = nullptr;  // (out_features) or null
  int64_t out_features = 0;
};

constexpr int kMaxGemvSegments = 3;

struct QuantGemvMultiParams {
  QuantGemvSegment segments[kMaxGemvSegments];
  int count = 0;
  const float* x = nullptr;  // (in_features), 16-byte aligned
  int64_t in_features = 0;
  const float* norm_weight = nullptr;
  float norm_eps = 0.0f;
  int64_t block_end[kMaxGemvSegments] = {};      // filled by quant_gemv_multi
  int64_t rows_per_warp[kMaxGemvSegments] = {};  // filled by quant_gemv_multi
  bool int8_activations = false;                 // as QuantGemvParams', when every segment allows it
};

// Several activation columns (tokens of different sequences) against one matrix, for the batched
// forward: y[c][o] = sum_i x[c][i] * W[o][i] (+ bias[o]) (+ residual[c][o]), or the SwiGLU form
// y[c][o] = silu(W[o] . x[c]) * (U[o] . x[c]). Batch invariance: every column's output bits are the
// same whatever `columns` is and wherever the column sits in the call, and equal those of
// quant_gemv() on that column alone (same weight, bias, residual, up_weight; no norm options).
//
// Q4_K, Q6_K, Q5_0 and Q8_0 matrices that quant_gemv_supports() take the decode kernel's per-row
// arithmetic, for groups of up to 8 columns per block (quant_gemv_columns.cu). Other types (F32,
// F16, Q5_K, ...) and misaligned matrices take quant_matmul's general kernel (never_gemv), whose
// per-token arithmetic does not depend on the token count either: still column invariant, but not
// the bits of quant_gemv (which refuses those matrices); the SwiGLU form is then kUnsupported.
struct QuantGemvColumnsParams {
  float* y = nullptr;  // (columns, out_features), row stride y_stride (0: out_features)
  int64_t y_stride = 0;
  const float* x =
      nullptr;  // (columns, in_features), row stride x_stride (0: in_features); 16-byte aligned rows
  int64_t x_stride = 0;
  const uint8_t* weight = nullptr;     // out_features rows of weight_row_bytes, device memory
  const uint8_t* up_weight = nullptr;  // SwiGLU form as in QuantGemvParams: y = silu(W.x) * (U.x)
  gguf::TensorType weight_type = gguf::TensorType::kF32;
  int64_t weight_row_bytes = 0;
  const float* bias = nullptr;  // (out_features) or null; not with up_weight
  const float* residual =
      nullptr;  // (columns, out_features) stride y_stride, may alias y; not with up_weight
  int64_t in_features = 0, out_features = 0;
  int64_t columns = 0;  // >= 1, any number (the batched forward uses up to ~128)
};

// True when `type` has a decode kernel and the matrix's alignment suits it.
bool quant_gemv_supports(gguf::TensorType type, const uint8_t* weight, int64_t row_bytes, int64_t in_features,
                         const float* x);

Status quant_gemv(const QuantGemvParams& params, cudaStream_t stream);
Status quant_gemv_multi(const QuantGemvMultiParams& params, cudaStream_t stream);
Status quant_gemv_columns(const QuantGemvColumnsParams& params, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
