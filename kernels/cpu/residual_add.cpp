#include "cpu/residual_add.hpp"

namespace llama_worker::kernels::cpu {

void residual_add_f32(float* out, const float* a, const float* b, int64_t count) {
  for (int64_t i = 0; i < count; ++i) out[i] = a[i] + b[i];
}

}  // namespace llama_worker::kernels::cpu
