#include "cpu/rope.hpp"

#include <cmath>

namespace llama_worker::kernels::cpu {

void rope_f32(const RopeParams& p) {
  const int64_t half = p.rotary_dims / 2;
  for (int64_t t = 0; t < p.tokens; ++t) {
    const double position = static_cast<double>(p.position_offset + t) * p.freq_scale;
    for (int64_t h = 0; h < p.heads; ++h) {
      float* head = p.x + (t * p.heads + h) * p.head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const double theta = position * std::pow(static_cast<double>(p.freq_base),
                                                 -2.0 * static_cast<double>(i) / p.rotary_dims);
        const float cos_theta = static_cast<float>(std::cos(theta));
        const float sin_theta = static_cast<float>(std::sin(theta));
        const int64_t first = p.style == RopeStyle::kNormal ? 2 * i : i;
        const int64_t second = p.style == RopeStyle::kNormal ? 2 * i + 1 : i + half;
        const float a = head[first];
        const float b = head[second];
        head[first] = a * cos_theta - b * sin_theta;
        head[second] = a * sin_theta + b * cos_theta;
      }
    }
  }
}

}  // namespace llama_worker::kernels::cpu
