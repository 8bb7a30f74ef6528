// Residual add, CPU reference: out[i] = a[i] + b[i]. The twin of kernels/cuda/residual_add.cu.
#pragma once

#include <cstdint>

namespace llama_worker::kernels::cpu {

// out, a, b: (count) fp32; out may alias a or b.
void residual_add_f32(float* out, const float* a, const float* b, int64_t count);

}  // namespace llama_worker::kernels::cpu
