#include "cpu/swiglu.hpp"

#include <cmath>

namespace llama_worker::kernels::cpu {

void swiglu_f32(const SwigluParams& p) {
  for (int64_t r = 0; r < p.rows; ++r) {
    const float* gate = p.gate + r * p.gate_row_stride;
    const float* up = p.up + r * p.up_row_stride;
    float* out = p.out + r * p.width;
    for (int64_t i = 0; i < p.width; ++i) {
      const float g = gate[i];
      out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  }
}

}  // namespace llama_worker::kernels::cpu
