#include "cpu/quantize_activations.hpp"

#include <cmath>

namespace llama_worker::kernels::cpu {

void quantize_activations_int8(const float* x, int64_t n, int8_t* q, float* d) {
  for (int64_t block = 0; block < n / kActivationBlock; ++block) {
    const float* values = x + block * kActivationBlock;
    float amax = 0.0f;
    for (int64_t i = 0; i < kActivationBlock; ++i) amax = std::fmax(amax, std::fabs(values[i]));
    const float scale = amax / 127.0f;
    d[block] = scale;
    for (int64_t i = 0; i < kActivationBlock; ++i) {
      // std::nearbyint under the default rounding mode: half to even, as CUDA's __float2int_rn.
      q[block * kActivationBlock + i] =
          scale == 0.0f ? int8_t{0} : static_cast<int8_t>(std::nearbyint(values[i] / scale));
    }
  }
}

void dequantize_activations_int8(const int8_t* q, const float* d, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(q[i]) * d[i / kActivationBlock];
}

}  // namespace llama_worker::kernels::cpu
