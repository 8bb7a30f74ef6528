// Int8 activation quantization (the decode product's LLAMA_WORKER_DECODE_INT8 input) against the
// definition: per 32 values, d = max|x| / 127 and q = round-half-even(x * (127 / max|x|)).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/quantize_activations.hpp"
#include "test_util.hpp"

namespace llama_worker::kernels::cpu {
namespace {

using testing::random_floats;

TEST(QuantizeActivations, EveryValueWithinHalfAStepAndTheLargestExact) {
  const int64_t n = 7 * kActivationBlock;
  auto x = random_floats(n, 11, 5.0f);
  std::vector<int8_t> q(n, 99);
  std::vector<float> d(n / kActivationBlock, -1.0f);
  quantize_activations_int8(x.data(), n, q.data(), d.data());
  std::vector<float> back(n);
  dequantize_activations_int8(q.data(), d.data(), n, back.data());
  for (int64_t block = 0; block < n / kActivationBlock; ++block) {
    float amax = 0.0f;
    for (int64_t i = 0; i < kActivationBlock; ++i) amax = std::fmax(amax, std::fabs(x[block * 32 + i]));
    EXPECT_EQ(d[block], amax / 127.0f) << "block " << block;
    for (int64_t i = 0; i < kActivationBlock; ++i) {
      const int64_t k = block * kActivationBlock + i;
      EXPECT_LE(std::abs(int{q[k]}), 127);
      EXPECT_LE(std::fabs(back[k] - x[k]), 0.5f * d[block] * (1.0f + 1e-4f)) << "value " << k;
      if (std::fabs(x[k]) == amax) {
        EXPECT_EQ(std::abs(int{q[k]}), 127) << "value " << k;
      }
    }
  }
}

TEST(QuantizeActivations, ZeroRunGetsZeroScaleAndTiesRoundToEven) {
  std::vector<float> x(2 * kActivationBlock, 0.0f);
  // Second run: max 127 gives d = 1, so 2.5 -> 2, 3.5 -> 4, -2.5 -> -2 (half to even).
  x[32] = 127.0f;
  x[33] = 2.5f;
  x[34] = 3.5f;
  x[35] = -2.5f;
  x[36] = -127.0f;
  std::vector<int8_t> q(x.size(), 99);
  std::vector<float> d(2, -1.0f);
  quantize_activations_int8(x.data(), static_cast<int64_t>(x.size()), q.data(), d.data());
  EXPECT_EQ(d[0], 0.0f);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(q[i], 0) << i;
  EXPECT_EQ(d[1], 1.0f);
  EXPECT_EQ(q[32], 127);
  EXPECT_EQ(q[33], 2);
  EXPECT_EQ(q[34], 4);
  EXPECT_EQ(q[35], -2);
  EXPECT_EQ(q[36], -127);
  EXPECT_EQ(q[37], 0);
}

}  // namespace
}  // namespace llama_worker::kernels::cpu
