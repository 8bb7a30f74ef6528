// Shared pieces of the op conformance suites (GPU op vs CPU reference twin, in the manner of
// llama.cpp's test-backend-ops): fresh random inputs from a non-deterministic seed (printed, so
// a failure can be replayed with LLAMA_WORKER_TEST_SEED), and the normalised mean squared error
// NMSE = sum (a - b)^2 / sum b^2 with a per-op budget. NaN anywhere fails.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace llama_worker::conformance {

inline uint64_t test_seed() {
  static const uint64_t seed = [] {
    if (const char* fixed = std::getenv("LLAMA_WORKER_TEST_SEED"))
      return static_cast<uint64_t>(std::strtoull(fixed, nullptr, 10));
    const uint64_t drawn = (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
    std::printf("conformance seed: %llu (replay with LLAMA_WORKER_TEST_SEED)\n",
                static_cast<unsigned long long>(drawn));
    return drawn;
  }();
  return seed;
}

inline std::mt19937_64& generator() {
  static std::mt19937_64 engine(test_seed());
  return engine;
}

inline std::vector<float> random_floats(size_t count, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> values(count);
  for (auto& v : values) v = normal(generator());
  return values;
}

// Returns the NMSE, or +inf when a value is NaN or the sizes differ.
inline double nmse(const std::vector<float>& actual, const std::vector<float>& expected) {
  if (actual.size() != expected.size()) return INFINITY;
  double error = 0.0;
  double norm = 0.0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(actual[i]) || std::isnan(expected[i])) return INFINITY;
    const double diff = static_cast<double>(actual[i]) - expected[i];
    error += diff * diff;
    norm += static_cast<double>(expected[i]) * expected[i];
  }
  return norm == 0.0 ? error : error / norm;
}

// EXPECT on the NMSE; further context can be streamed with <<.
#define EXPECT_NMSE_BELOW(actual, expected, budget) \
  EXPECT_LE(::llama_worker::conformance::nmse((actual), (expected)), (budget))

}  // namespace llama_worker::conformance
