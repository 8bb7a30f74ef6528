// Helpers shared by the CPU reference op tests: seeded random inputs and poisoned outputs.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace llama_worker::kernels::cpu::testing {

// Uniform values in [-scale, scale) from a fixed seed (std::uniform_real_distribution is not
// portable across standard libraries, so the mapping is written out).
inline std::vector<float> random_floats(int64_t count, uint32_t seed, float scale = 1.0f) {
  std::mt19937 generator(seed);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& value : values) {
    const double unit = static_cast<double>(generator()) / 4294967296.0;
    value = static_cast<float>((2.0 * unit - 1.0) * scale);
  }
  return values;
}

// Outputs are filled with NaN before an op runs, so an element the op forgets to write fails.
inline std::vector<float> poisoned(int64_t count) {
  return std::vector<float>(static_cast<size_t>(count), std::numeric_limits<float>::quiet_NaN());
}

}  // namespace llama_worker::kernels::cpu::testing
