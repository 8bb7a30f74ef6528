// Deterministic block-wide reductions: warp butterflies, then one warp over the per-warp
// partials in a fixed order. The result is the same on every run for the same inputs and
// block size (no atomics, no order that depends on scheduling).
#pragma once

#include <cstdint>

namespace llama_worker::kernels::cuda {

__device__ __forceinline__ float warp_reduce_sum(float value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

__device__ __forceinline__ float warp_reduce_max(float value) {
  for (int offset = 16; offset > 0; offset >>= 1)
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

// Every thread of the block gets the sum. `scratch` holds at least 32 floats; blockDim.x is a
// multiple of 32.
__device__ __forceinline__ float block_reduce_sum(float value, float* scratch) {
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int warps = blockDim.x / 32;
  value = warp_reduce_sum(value);
  __syncthreads();  // scratch may still be read by a previous reduction
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  value = lane < warps ? scratch[lane] : 0.0f;
  return warp_reduce_sum(value);
}

__device__ __forceinline__ float block_reduce_max(float value, float* scratch) {
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int warps = blockDim.x / 32;
  value = warp_reduce_max(value);
  __syncthreads();
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  value = lane < warps ? scratch[lane] : -INFINITY;
  return warp_reduce_max(value);
}

// 1 / sqrt(mean(x^2) + eps) over the whole vector, computed by the block (every thread gets it);
// the same formula as rmsnorm_f32. Must be called by every thread of the block.
__device__ __forceinline__ float block_inverse_rms(const float* x, int64_t width, float eps) {
  __shared__ float scratch[32];
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) sum = fmaf(x[i], x[i], sum);
  sum = block_reduce_sum(sum, scratch);
  return 1.0f / sqrtf(sum / static_cast<float>(width) + eps);
}

}  // namespace llama_worker::kernels::cuda
