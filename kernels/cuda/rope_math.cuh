// The rotary embedding's arithmetic, shared by every kernel that rotates (rope.cu, the fused
// decode attention in attention_decode.cu), so that all of them give the same bits: the angle of
// pair i at a position in double, rounded once to float cos/sin (kernels/cpu/rope.hpp's formula),
// and the rotation with explicitly rounded float operations (no fused multiply-add contraction).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace llama_worker::kernels::cuda {

__device__ __forceinline__ float2 rope_cos_sin(int64_t position, int64_t pair, int64_t rotary_dims,
                                               float freq_base, float freq_scale) {
  const double scaled = static_cast<double>(position) * static_cast<double>(freq_scale);
  const double theta = scaled * pow(static_cast<double>(freq_base),
                                    -2.0 * static_cast<double>(pair) / static_cast<double>(rotary_dims));
  double sin_theta = 0.0;
  double cos_theta = 0.0;
  sincos(theta, &sin_theta, &cos_theta);
  return make_float2(static_cast<float>(cos_theta), static_cast<float>(sin_theta));
}

// Rotates the pair (x[ia], x[ib]) by the angle whose cosine and sine are cs.
__device__ __forceinline__ void rope_rotate(float* x, int64_t ia, int64_t ib, float2 cs) {
  const float a = x[ia];
  const float b = x[ib];
  x[ia] = __fsub_rn(__fmul_rn(a, cs.x), __fmul_rn(b, cs.y));
  x[ib] = __fadd_rn(__fmul_rn(a, cs.y), __fmul_rn(b, cs.x));
}

}  // namespace llama_worker::kernels::cuda
