#include "cpu/rmsnorm.hpp"

#include <cmath>

namespace llama_worker::kernels::cpu {

void rmsnorm_f32(float* out, const float* x, const float* weight, int64_t rows, int64_t width, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* in_row = x + r * width;
    float* out_row = out + r * width;
    double sum_of_squares = 0.0;
    for (int64_t i = 0; i < width; ++i) sum_of_squares += static_cast<double>(in_row[i]) * in_row[i];
    const double mean = sum_of_squares / static_cast<double>(width);
    const float inverse_rms = static_cast<float>(1.0 / std::sqrt(mean + static_cast<double>(eps)));
    for (int64_t i = 0; i < width; ++i) out_row[i] = in_row[i] * inverse_rms * weight[i];
  }
}

}  // namespace llama_worker::kernels::cpu
