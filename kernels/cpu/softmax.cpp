#include "cpu/softmax.hpp"

#include <cmath>
#include <limits>

namespace llama_worker::kernels::cpu {

void softmax_f32(float* x, int64_t rows, int64_t width) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * width;
    float maximum = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < width; ++i) maximum = std::fmax(maximum, row[i]);
    if (maximum == -std::numeric_limits<float>::infinity()) {
      for (int64_t i = 0; i < width; ++i) row[i] = 0.0f;
      continue;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < width; ++i) {
      row[i] = std::exp(row[i] - maximum);
      sum += row[i];
    }
    const float inverse_sum = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < width; ++i) row[i] *= inverse_sum;
  }
}

}  // namespace llama_worker::kernels::cpu
