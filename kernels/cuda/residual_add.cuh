// Residual add on the device: out[i] = a[i] + b[i]. CPU twin: kernels/cpu/residual_add.hpp.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"

namespace llama_worker::kernels::cuda {

// out, a, b: (count) fp32 device pointers; out may alias a or b.
Status residual_add_f32(float* out, const float* a, const float* b, int64_t count, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
