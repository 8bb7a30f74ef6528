// Quantize -> dequantize round trips for every supported type: valid blocks, error within a
// per-type bound relative to the data's scale, and clear errors for bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gguf/tensor_type.hpp"
#include "quant/dequantize.hpp"
#include "quant/quantize.hpp"

namespace llama_worker::quant {
namespace {

using gguf::TensorType;

// A small fixed generator (splitmix64) with our own float conversion, so the inputs are the same
// on every platform.
struct TestRandom {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }  // [0, 1)
  float normal() {  // sum of 4 uniforms, centred and scaled to unit variance
    float sum = 0.0f;
    for (int i = 0; i < 4; ++i) sum += uniform();
    return (sum - 2.0f) * std::sqrt(3.0f);
  }
};

struct Bound {
  TensorType type;
  double relative_rms;  // RMS error / RMS of the input, over the whole row (measured: about 80% of it)
};

class QuantizeRoundTrip : public ::testing::TestWithParam<Bound> {};

TEST_P(QuantizeRoundTrip, DequantizationIsCloseToTheInput) {
  const auto [type, bound] = GetParam();
  const int64_t count = 256 * 64;
  for (const float magnitude : {1e-3f, 0.02f, 1.0f, 300.0f}) {
    TestRandom random{static_cast<uint64_t>(magnitude * 1000) + static_cast<uint64_t>(type)};
    std::vector<float> input(count);
    for (auto& x : input) x = random.normal() * magnitude;
    for (int64_t i = 0; i < count; i += 97) input[i] += magnitude * 2.0f;            // some outliers
    for (int64_t i = 256; i < 512; ++i) input[i] = std::fabs(input[i]) + magnitude;  // an all-positive block

    const auto bytes = gguf::row_bytes(type, count);
    ASSERT_TRUE(bytes);
    std::vector<uint8_t> blocks(*bytes, 0xCD);
    ASSERT_TRUE(quantize_row(type, input.data(), blocks.data(), count));
    std::vector<float> output(count, std::numeric_limits<float>::quiet_NaN());
    ASSERT_TRUE(dequantize_row(type, blocks.data(), output.data(), count));
    double error = 0.0, energy = 0.0;
    for (int64_t i = 0; i < count; ++i) {
      ASSERT_TRUE(std::isfinite(output[i])) << i;
      error += (output[i] - input[i]) * static_cast<double>(output[i] - input[i]);
      energy += static_cast<double>(input[i]) * input[i];
    }
    const double relative = std::sqrt(error / energy);
    EXPECT_LT(relative, bound) << gguf::tensor_type_name(type) << " at magnitude " << magnitude;
    // Same input, same bytes.
    std::vector<uint8_t> again(*bytes);
    ASSERT_TRUE(quantize_row(type, input.data(), again.data(), count));
    EXPECT_EQ(again, blocks);
  }
}

TEST_P(QuantizeRoundTrip, ZerosStayZero) {
  const TensorType type = GetParam().type;
  const int64_t count = 512;
  std::vector<float> input(count, 0.0f);
  std::vector<uint8_t> blocks(*gguf::row_bytes(type, count), 0xFF);
  ASSERT_TRUE(quantize_row(type, input.data(), blocks.data(), count));
  std::vector<float> output(count, 1.0f);
  ASSERT_TRUE(dequantize_row(type, blocks.data(), output.data(), count));
  for (float x : output) ASSERT_EQ(x, 0.0f);
}

TEST_P(QuantizeRoundTrip, RejectsNonFiniteAndOutOfRangeInput) {
  const TensorType type = GetParam().type;
  const int64_t count = 256;
  std::vector<uint8_t> blocks(*gguf::row_bytes(type, count));
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> input(count, 0.5f);
    input[37] = bad;
    const Status status = quantize_row(type, input.data(), blocks.data(), count);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(status.message().find("element 37"), std::string::npos) << status.message();
  }
  if (type != TensorType::kF32 && type != TensorType::kBF16) {
    std::vector<float> input(count, 0.5f);
    input[3] = 1e6f;
    EXPECT_FALSE(quantize_row(type, input.data(), blocks.data(), count));
  }
}

INSTANTIATE_TEST_SUITE_P(EveryType, QuantizeRoundTrip,
                         ::testing::Values(Bound{TensorType::kF32, 1e-9}, Bound{TensorType::kF16, 5e-4},
                                           Bound{TensorType::kBF16, 3e-3}, Bound{TensorType::kQ8_0, 0.008},
                                           Bound{TensorType::kQ6_K, 0.025}, Bound{TensorType::kQ5_0, 0.05},
                                           Bound{TensorType::kQ5_1, 0.045}, Bound{TensorType::kQ5_K, 0.045},
                                           Bound{TensorType::kQ4_0, 0.1}, Bound{TensorType::kQ4_1, 0.09},
                                           Bound{TensorType::kQ4_K, 0.09}, Bound{TensorType::kQ3_K, 0.18},
                                           Bound{TensorType::kQ2_K, 0.36}),
                         [](const auto& test_param) {
                           return std::string(gguf::tensor_type_name(test_param.param.type));
                         });

TEST(Quantize, UnsupportedTypeAndBadCountAreErrors) {
  std::vector<float> input(256, 1.0f);
  std::vector<uint8_t> out(1024);
  const Status unsupported = quantize_row(TensorType::kIQ4_XS, input.data(), out.data(), 256);
  ASSERT_FALSE(unsupported);
  EXPECT_NE(unsupported.message().find("IQ4_XS"), std::string::npos);
  EXPECT_FALSE(quantize_row(TensorType::kQ8_0, input.data(), out.data(), 33));
}

}  // namespace
}  // namespace llama_worker::quant
