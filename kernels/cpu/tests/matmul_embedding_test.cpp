// Matmul and embedding lookup over GGUF-encoded weights, against double-precision sums over
// weights decoded here independently (F32 bytes; F16 via the IEEE half formula written out).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "cpu/embedding.hpp"
#include "cpu/matmul.hpp"
#include "test_util.hpp"

namespace llama_worker::kernels::cpu {
namespace {

using testing::poisoned;
using testing::random_floats;

std::vector<uint8_t> as_f32_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// Half-precision encoding of small normal values, written out (round to nearest even) so that
// the test does not lean on the code under test.
uint16_t to_half(float value) {
  if (value == 0.0f) return 0;
  const uint16_t sign = value < 0 ? 0x8000 : 0;
  double magnitude = std::fabs(double(value));
  int exponent = 0;
  double mantissa =
      std::frexp(magnitude, &exponent);  // magnitude = mantissa * 2^exponent, mantissa in [0.5, 1)
  int biased = exponent - 1 + 15;
  double fraction = std::nearbyint((mantissa * 2.0 - 1.0) * 1024.0);
  if (fraction == 1024.0) {
    fraction = 0;
    ++biased;
  }
  return static_cast<uint16_t>(sign | (biased << 10) | static_cast<uint16_t>(fraction));
}
double from_half(uint16_t h) {
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  const int biased = (h >> 10) & 0x1f;
  if (biased == 0 && (h & 0x3ff) == 0) return 0.0;
  return sign * std::ldexp(1.0 + (h & 0x3ff) / 1024.0, biased - 15);
}

TEST(Matmul, F32WeightsWithBiasMatchDoubleSums) {
  const int64_t rows = 4, in = 67, out = 29;
  auto x = random_floats(rows * in, 1), w = random_floats(out * in, 2), bias = random_floats(out, 3);
  auto bytes = as_f32_bytes(w);
  auto y = poisoned(rows * out);
  ASSERT_TRUE(matmul_f32({.y = y.data(),
                          .x = x.data(),
                          .weight = bytes.data(),
                          .weight_type = gguf::TensorType::kF32,
                          .weight_row_bytes = in * 4,
                          .bias = bias.data(),
                          .rows = rows,
                          .in_features = in,
                          .out_features = out,
                          .threads = 2}));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double expected = bias[o];
      for (int64_t i = 0; i < in; ++i) expected += double(x[r * in + i]) * w[o * in + i];
      EXPECT_NEAR(y[r * out + o], expected, 1e-5);
    }
}

TEST(Matmul, F16WeightsAreDecodedExactly) {
  const int64_t rows = 3, in = 40, out = 9;
  auto x = random_floats(rows * in, 4), w = random_floats(out * in, 5);
  std::vector<uint8_t> bytes(static_cast<size_t>(out * in * 2));
  for (int64_t i = 0; i < out * in; ++i) {
    const uint16_t h = to_half(w[i]);
    bytes[2 * i] = static_cast<uint8_t>(h);
    bytes[2 * i + 1] = static_cast<uint8_t>(h >> 8);
  }
  auto y = poisoned(rows * out);
  ASSERT_TRUE(matmul_f32({.y = y.data(),
                          .x = x.data(),
                          .weight = bytes.data(),
                          .weight_type = gguf::TensorType::kF16,
                          .weight_row_bytes = in * 2,
                          .rows = rows,
                          .in_features = in,
                          .out_features = out}));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double expected = 0;
      for (int64_t i = 0; i < in; ++i) expected += double(x[r * in + i]) * from_half(to_half(w[o * in + i]));
      EXPECT_NEAR(y[r * out + o], expected, 1e-5);
    }
}

TEST(Matmul, ThreadCountDoesNotChangeBits) {
  const int64_t rows = 5, in = 96, out = 31;
  auto x = random_floats(rows * in, 6), w = random_floats(out * in, 7);
  auto bytes = as_f32_bytes(w);
  auto one = poisoned(rows * out), two = poisoned(rows * out);
  MatmulParams p{.x = x.data(),
                 .weight = bytes.data(),
                 .weight_row_bytes = in * 4,
                 .rows = rows,
                 .in_features = in,
                 .out_features = out};
  p.y = one.data();
  p.threads = 1;
  ASSERT_TRUE(matmul_f32(p));
  p.y = two.data();
  p.threads = 2;
  ASSERT_TRUE(matmul_f32(p));
  for (int64_t i = 0; i < rows * out; ++i) EXPECT_EQ(one[i], two[i]);
}

TEST(Matmul, RejectsARowSizeThatDoesNotMatchTheType) {
  std::vector<float> x(32), y(1);
  std::vector<uint8_t> w(34);
  auto status = matmul_f32({.y = y.data(),
                            .x = x.data(),
                            .weight = w.data(),
                            .weight_type = gguf::TensorType::kQ8_0,
                            .weight_row_bytes = 30,
                            .rows = 1,
                            .in_features = 32,
                            .out_features = 1});
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("34"), std::string::npos) << status.message();
}

TEST(Embedding, CopiesRowsAndRejectsIdsOutsideTheVocabulary) {
  const int64_t vocab = 11, width = 6;
  auto table = random_floats(vocab * width, 8);
  auto bytes = as_f32_bytes(table);
  std::vector<int32_t> tokens = {10, 0, 3, 3};
  auto out = poisoned(4 * width);
  EmbeddingParams p{.out = out.data(),
                    .tokens = tokens.data(),
                    .token_count = 4,
                    .table = bytes.data(),
                    .table_row_bytes = width * 4,
                    .vocab = vocab,
                    .width = width};
  ASSERT_TRUE(embedding_lookup_f32(p));
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t i = 0; i < width; ++i) EXPECT_EQ(out[t * width + i], table[tokens[t] * width + i]);
  tokens[2] = 11;
  auto status = embedding_lookup_f32(p);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("token id 11 at position 2"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace llama_worker::kernels::cpu
