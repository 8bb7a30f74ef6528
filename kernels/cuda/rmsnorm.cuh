// RMSNorm on the device: out[r][i] = x[r][i] / sqrt(mean_i(x[r][i]^2) + eps) * weight[i].
// Twin of kernels/cpu/rmsnorm.hpp. One block per row; the mean of squares is a deterministic
// block reduction (block_reduce.cuh).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"

namespace llama_worker::kernels::cuda {

// out, x: (rows, width) fp32 device memory (out may alias x); weight: (width).
// packed (optional): the result also written as fragment_mma's packed activations of `rows`
// columns (fragment_activation_index; width a multiple of 16), the same values
// pack_fragment_activations would make of `out`, without its launch.
Status rmsnorm_f32(float* out, const float* x, const float* weight, int64_t rows, int64_t width, float eps,
                   cudaStream_t stream, __half* packed = nullptr);

}  // namespace llama_worker::kernels::cuda
