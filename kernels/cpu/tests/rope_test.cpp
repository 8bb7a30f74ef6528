// RoPE: hand-computed angles, both pair layouts, partial rotary, position offsets, and the
// property that makes it a *relative* position encoding.
#include <gtest/gtest.h>

#include <cmath>

#include "cpu/rope.hpp"
#include "test_util.hpp"

namespace llama_worker::kernels::cpu {
namespace {

using testing::random_floats;

TEST(Rope, PositionZeroIsIdentity) {
  auto x = random_floats(2 * 3 * 8, 1);
  auto original = x;
  rope_f32({.x = x.data(),
            .tokens = 1,
            .heads = 3,
            .head_dim = 8,
            .rotary_dims = 8,
            .position_offset = 0,
            .style = RopeStyle::kNeox});
  for (int i = 0; i < 24; ++i) EXPECT_EQ(x[i], original[i]);
}

TEST(Rope, NormalStyleRotatesAdjacentPairsByHandComputedAngles) {
  // head_dim 4, base 100, position 3: pair 0 angle 3, pair 1 angle 3 * 100^(-1/2) = 0.3.
  std::vector<float> x = {1, 2, 3, 4};
  rope_f32({.x = x.data(),
            .tokens = 1,
            .heads = 1,
            .head_dim = 4,
            .rotary_dims = 4,
            .position_offset = 3,
            .freq_base = 100.0f,
            .style = RopeStyle::kNormal});
  EXPECT_NEAR(x[0], 1 * std::cos(3.0) - 2 * std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[1], 1 * std::sin(3.0) + 2 * std::cos(3.0), 1e-6);
  EXPECT_NEAR(x[2], 3 * std::cos(0.3) - 4 * std::sin(0.3), 1e-6);
  EXPECT_NEAR(x[3], 3 * std::sin(0.3) + 4 * std::cos(0.3), 1e-6);
}

TEST(Rope, NeoxStyleRotatesHalvesByHandComputedAngles) {
  std::vector<float> x = {1, 2, 3, 4};  // pairs (x0, x2) angle 3 and (x1, x3) angle 0.3
  rope_f32({.x = x.data(),
            .tokens = 1,
            .heads = 1,
            .head_dim = 4,
            .rotary_dims = 4,
            .position_offset = 3,
            .freq_base = 100.0f,
            .style = RopeStyle::kNeox});
  EXPECT_NEAR(x[0], 1 * std::cos(3.0) - 3 * std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[2], 1 * std::sin(3.0) + 3 * std::cos(3.0), 1e-6);
  EXPECT_NEAR(x[1], 2 * std::cos(0.3) - 4 * std::sin(0.3), 1e-6);
  EXPECT_NEAR(x[3], 2 * std::sin(0.3) + 4 * std::cos(0.3), 1e-6);
}

TEST(Rope, NeoxIsNormalUnderTheHalvesToPairsPermutation) {
  // What llama.cpp's converter relies on: permuting (halves -> interleaved pairs) turns NEOX into
  // NORMAL. Checked at an odd head count, partial rotary and a large offset.
  const int64_t head_dim = 12, rotary = 8, heads = 3, tokens = 5;
  auto neox = random_floats(tokens * heads * head_dim, 7);
  std::vector<float> normal(neox.size());
  for (int64_t row = 0; row < tokens * heads; ++row) {
    const float* src = neox.data() + row * head_dim;
    float* dst = normal.data() + row * head_dim;
    for (int64_t i = 0; i < rotary / 2; ++i) {
      dst[2 * i] = src[i];
      dst[2 * i + 1] = src[i + rotary / 2];
    }
    for (int64_t i = rotary; i < head_dim; ++i) dst[i] = src[i];
  }
  RopeParams params{.tokens = tokens,
                    .heads = heads,
                    .head_dim = head_dim,
                    .rotary_dims = rotary,
                    .position_offset = 1000,
                    .freq_base = 1000000.0f};
  params.x = neox.data();
  params.style = RopeStyle::kNeox;
  rope_f32(params);
  params.x = normal.data();
  params.style = RopeStyle::kNormal;
  rope_f32(params);
  for (int64_t row = 0; row < tokens * heads; ++row) {
    for (int64_t i = 0; i < rotary / 2; ++i) {
      EXPECT_EQ(normal[row * head_dim + 2 * i], neox[row * head_dim + i]);
      EXPECT_EQ(normal[row * head_dim + 2 * i + 1], neox[row * head_dim + i + rotary / 2]);
    }
    for (int64_t i = rotary; i < head_dim; ++i)
      EXPECT_EQ(normal[row * head_dim + i], neox[row * head_dim + i]);
  }
}

TEST(Rope, DotProductDependsOnlyOnRelativePosition) {
  for (RopeStyle style : {RopeStyle::kNormal, RopeStyle::kNeox}) {
    const int64_t head_dim = 64;
    const auto q0 = random_floats(head_dim, 8), k0 = random_floats(head_dim, 9);
    auto dot_at = [&](int64_t q_position, int64_t k_position) {
      auto q = q0, k = k0;
      rope_f32({.x = q.data(),
                .tokens = 1,
                .heads = 1,
                .head_dim = head_dim,
                .rotary_dims = head_dim,
                .position_offset = q_position,
                .style = style});
      rope_f32({.x = k.data(),
                .tokens = 1,
                .heads = 1,
                .head_dim = head_dim,
                .rotary_dims = head_dim,
                .position_offset = k_position,
                .style = style});
      double dot = 0;
      for (int64_t i = 0; i < head_dim; ++i) dot += double(q[i]) * k[i];
      return dot;
    };
    EXPECT_NEAR(dot_at(7, 3), dot_at(107, 103), 1e-4);
    EXPECT_NEAR(dot_at(50, 50), dot_at(0, 0), 1e-4);
  }
}

TEST(Rope, OffsetEqualsLaterTokenOfABatch) {
  // Token 4 of a batch starting at 0 is rotated like token 0 of a batch starting at 4 (decode).
  const int64_t head_dim = 16;
  auto batch = random_floats(5 * head_dim, 10);
  std::vector<float> single(batch.begin() + 4 * head_dim, batch.end());
  rope_f32({.x = batch.data(),
            .tokens = 5,
            .heads = 1,
            .head_dim = head_dim,
            .rotary_dims = head_dim,
            .style = RopeStyle::kNeox});
  rope_f32({.x = single.data(),
            .tokens = 1,
            .heads = 1,
            .head_dim = head_dim,
            .rotary_dims = head_dim,
            .position_offset = 4,
            .style = RopeStyle::kNeox});
  for (int64_t i = 0; i < head_dim; ++i) EXPECT_EQ(single[i], batch[4 * head_dim + i]);
}

}  // namespace
}  // namespace llama_worker::kernels::cpu
