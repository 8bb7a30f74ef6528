#include "cpu/quantize_activations.hpp"

#include <algorithm>
#include <cmath>

namespace llama_worker::kernels::cpu {

void quantize_activations_int8(const float* x, int64_t n, int8_t* q, float* d) {
  for (int64_t block = 0; block < n / kActivationBlock; ++block) {
    const float* values = x + block * kActivationBlock;
    float amax = 0.0f;
    for (int64_t i = 0; i < kActivationBlock; ++i) amax = std::fmax(amax, std::fabs(values[i]));
    d[block] = amax / 127.0f;
    const float inverse = amax == 0.0f ? 0.0f : 127.0f / amax;
    for (int64_t i = 0; i < kActivationBlock; ++i) {
      // std::nearbyint under the default rounding mode: half to even, as CUDA's __float2int_rn;
      // NaN (from a NaN or infinite input) gives 0 there, and here, without a cast of NaN.
      const float rounded = std::nearbyint(values[i] * inverse);
      q[block * kActivationBlock + i] =
          std::isnan(rounded) ? int8_t{0} : static_cast<int8_t>(std::clamp(rounded, -127.0f, 127.0f));
    }
  }
}

void dequantize_activations_int8(const int8_t* q, const float* d, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(q[i]) * d[i / kActivationBlock];
}

}  // namespace llama_worker::kernels::cpu
