// RMSNorm, CPU reference: out[r][i] = x[r][i] / sqrt(mean_i(x[r][i]^2) + eps) * weight[i].
//
// The mean of squares is accumulated in double so that the reference does not depend on the
// summation order; the result is rounded to fp32 once. This is the normalisation of every Llama
// block (attn_norm, ffn_norm) and of the final output_norm.
#pragma once

#include <cstdint>

namespace llama_worker::kernels::cpu {

// out:    (rows, width) fp32; may alias x
// x:      (rows, width) fp32, rows contiguous
// weight: (width) fp32, the learned scale
// eps:    added to the mean of squares (GGUF: <arch>.attention.layer_norm_rms_epsilon)
void rmsnorm_f32(float* out, const float* x, const float* weight, int64_t rows, int64_t width, float eps);

}  // namespace llama_worker::kernels::cpu
