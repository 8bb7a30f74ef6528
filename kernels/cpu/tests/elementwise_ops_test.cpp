// RMSNorm, softmax, SwiGLU and residual add against double-precision formulas written out here.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cpu/residual_add.hpp"
#include "cpu/rmsnorm.hpp"
#include "cpu/softmax.hpp"
#include "cpu/swiglu.hpp"
#include "test_util.hpp"

namespace llama_worker::kernels::cpu {
namespace {

using testing::poisoned;
using testing::random_floats;

TEST(RmsNorm, MatchesDoubleFormulaAtOddWidths) {
  for (int64_t width : {1, 7, 33, 896}) {
    const int64_t rows = 3;
    auto x = random_floats(rows * width, 1, 4.0f);
    auto weight = random_floats(width, 2);
    auto out = poisoned(rows * width);
    const float eps = 1e-6f;
    rmsnorm_f32(out.data(), x.data(), weight.data(), rows, width, eps);
    for (int64_t r = 0; r < rows; ++r) {
      double mean = 0;
      for (int64_t i = 0; i < width; ++i) mean += double(x[r * width + i]) * x[r * width + i] / width;
      for (int64_t i = 0; i < width; ++i) {
        const double expected = x[r * width + i] / std::sqrt(mean + eps) * weight[i];
        EXPECT_NEAR(out[r * width + i], expected, 1e-5 * (1 + std::fabs(expected))) << "width " << width;
      }
    }
  }
}

TEST(RmsNorm, UnitWeightGivesUnitRootMeanSquareAndWorksInPlace) {
  const int64_t width = 123;
  auto x = random_floats(width, 3, 10.0f);
  std::vector<float> weight(width, 1.0f);
  rmsnorm_f32(x.data(), x.data(), weight.data(), 1, width, 0.0f);
  double mean = 0;
  for (float v : x) mean += double(v) * v / width;
  EXPECT_NEAR(mean, 1.0, 1e-5);
}

TEST(Softmax, RowsSumToOneAndMaskedEntriesAreZero) {
  std::vector<float> x = {1000.0f, 999.0f, -std::numeric_limits<float>::infinity(),
                          998.0f,  // no overflow
                          0.0f,    0.0f,   0.0f,
                          0.0f};
  softmax_f32(x.data(), 2, 4);
  const double z = 1 + std::exp(-1.0) + std::exp(-2.0);
  EXPECT_NEAR(x[0], 1 / z, 1e-6);
  EXPECT_NEAR(x[1], std::exp(-1.0) / z, 1e-6);
  EXPECT_EQ(x[2], 0.0f);
  EXPECT_NEAR(x[3], std::exp(-2.0) / z, 1e-6);
  for (int i = 4; i < 8; ++i) EXPECT_FLOAT_EQ(x[i], 0.25f);
}

TEST(Swiglu, MatchesSiluTimesUpIncludingFusedLayout) {
  const int64_t rows = 5, width = 37;
  // Fused layout: (rows, 2 * width), gate first, as Phi-3's ffn_up produces it.
  auto fused = random_floats(rows * 2 * width, 4, 6.0f);
  auto out = poisoned(rows * width);
  swiglu_f32({.out = out.data(),
              .gate = fused.data(),
              .up = fused.data() + width,
              .rows = rows,
              .width = width,
              .gate_row_stride = 2 * width,
              .up_row_stride = 2 * width});
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < width; ++i) {
      const double g = fused[r * 2 * width + i], u = fused[r * 2 * width + width + i];
      const double expected = g / (1 + std::exp(-g)) * u;
      EXPECT_NEAR(out[r * width + i], expected, 1e-5 * (1 + std::fabs(expected)));
    }
  }
}

TEST(ResidualAdd, AddsElementwise) {
  auto a = random_floats(17, 5), b = random_floats(17, 6);
  auto out = poisoned(17);
  residual_add_f32(out.data(), a.data(), b.data(), 17);
  for (int i = 0; i < 17; ++i) EXPECT_EQ(out[i], a[i] + b[i]);
}

}  // namespace
}  // namespace llama_worker::kernels::cpu
