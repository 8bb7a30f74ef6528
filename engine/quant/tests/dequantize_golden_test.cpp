// Our dequantization and reference quantizers against the gguf Python package (golden/quant):
// every type bit-exact, on random blocks with finite fp16 scales (zero and subnormal included),
// and every one of the 65,536 F16 and BF16 bit patterns.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "gguf/tensor_type.hpp"
#include "golden_file.hpp"
#include "quant/dequantize.hpp"
#include "quant/quantize.hpp"

namespace llama_worker::quant {
namespace {

using gguf::TensorType;
using testing::read_golden;

std::vector<uint32_t> as_words(const std::vector<uint8_t>& bytes) {
  std::vector<uint32_t> words(bytes.size() / 4);
  for (size_t i = 0; i < words.size(); ++i) {
    words[i] = bytes[4 * i] | (bytes[4 * i + 1] << 8) | (bytes[4 * i + 2] << 16) |
               (static_cast<uint32_t>(bytes[4 * i + 3]) << 24);
  }
  return words;
}

class DequantizeGolden : public ::testing::TestWithParam<TensorType> {};

TEST_P(DequantizeGolden, MatchesGgufPackageBitExactly) {
  const TensorType type = GetParam();
  const std::string name = std::string(gguf::tensor_type_name(type));
  const auto golden = read_golden("dequantize_" + name + ".bin");
  ASSERT_TRUE(golden.error.empty()) << golden.error;
  EXPECT_EQ(golden.header["type"], name);
  EXPECT_EQ(golden.header["type_id"].get<uint32_t>(), static_cast<uint32_t>(type));
  const auto& input = golden.sections.at("input");
  const auto expected = as_words(golden.sections.at("expected"));
  const auto& traits = gguf::traits(type);
  ASSERT_EQ(input.size() % static_cast<size_t>(traits.bytes_per_block), 0u);
  const int64_t count = static_cast<int64_t>(input.size()) / traits.bytes_per_block * traits.block_size;
  ASSERT_EQ(static_cast<size_t>(count), expected.size());

  std::vector<float> output(expected.size(), -12345.0f);  // poisoned
  ASSERT_TRUE(dequantize_row(type, input.data(), output.data(), count));
  int mismatches = 0;
  for (size_t i = 0; i < expected.size() && mismatches < 10; ++i) {
    const uint32_t got = std::bit_cast<uint32_t>(output[i]);
    if (got != expected[i]) {
      ++mismatches;
      ADD_FAILURE() << name << " element " << i << " (block " << i / static_cast<size_t>(traits.block_size)
                    << "): got 0x" << std::hex << got << " (" << output[i] << "), oracle 0x" << expected[i]
                    << " (" << std::bit_cast<float>(expected[i]) << ")";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryType, DequantizeGolden,
                         ::testing::Values(TensorType::kF16, TensorType::kBF16, TensorType::kQ4_0,
                                           TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1,
                                           TensorType::kQ8_0, TensorType::kQ2_K, TensorType::kQ3_K,
                                           TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K),
                         [](const auto& test_param) {
                           return std::string(gguf::tensor_type_name(test_param.param));
                         });

class QuantizeGolden : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantizeGolden, MatchesGgmlReferenceQuantizerBitExactly) {
  const TensorType type = GetParam();
  const std::string name = std::string(gguf::tensor_type_name(type));
  const auto golden = read_golden("quantize_" + name + ".bin");
  ASSERT_TRUE(golden.error.empty()) << golden.error;
  const auto words = as_words(golden.sections.at("input"));
  const auto& expected = golden.sections.at("expected");
  std::vector<float> input(words.size());
  for (size_t i = 0; i < words.size(); ++i) input[i] = std::bit_cast<float>(words[i]);
  const int64_t count = static_cast<int64_t>(input.size());
  const auto bytes = gguf::row_bytes(type, count);
  ASSERT_TRUE(bytes);
  ASSERT_EQ(*bytes, expected.size());

  if (type == TensorType::kBF16) {
    // The oracle converts every bit pattern, NaN and Inf included, which quantize_row refuses
    // (non-finite input is an error there); compare per element through the same format code.
    std::vector<uint8_t> output(2);
    int mismatches = 0;
    for (size_t i = 0; i < input.size() && mismatches < 10; ++i) {
      if (!std::isfinite(input[i]) || std::fabs(input[i]) > 3.3895313892515355e38f) continue;
      ASSERT_TRUE(quantize_row(type, &input[i], output.data(), 1));
      if (output[0] != expected[2 * i] || output[1] != expected[2 * i + 1]) {
        ++mismatches;
        ADD_FAILURE() << "BF16 of 0x" << std::hex << words[i];
      }
    }
    return;
  }
  std::vector<uint8_t> output(expected.size(), 0xAB);
  ASSERT_TRUE(quantize_row(type, input.data(), output.data(), count));
  int mismatches = 0;
  for (size_t i = 0; i < expected.size() && mismatches < 10; ++i) {
    if (output[i] != expected[i]) {
      ++mismatches;
      ADD_FAILURE() << name << " byte " << i << " (block "
                    << i / static_cast<size_t>(gguf::traits(type).bytes_per_block) << "): got "
                    << int(output[i]) << ", oracle " << int(expected[i]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ReferenceQuantizers, QuantizeGolden,
                         ::testing::Values(TensorType::kBF16, TensorType::kQ4_0, TensorType::kQ4_1,
                                           TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ8_0),
                         [](const auto& test_param) {
                           return std::string(gguf::tensor_type_name(test_param.param));
                         });

// engine/gguf/tensor_type.cpp's block sizes against the gguf package's GGML_QUANT_SIZES.
TEST(TensorTypeLayouts, MatchGgufPackage) {
  std::ifstream in(testing::golden_dir() + "/type_sizes.json");
  ASSERT_TRUE(in) << "missing type_sizes.json";
  const auto doc = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& [name, entry] : doc["types"].items()) {
    const auto traits = gguf::tensor_type_traits(entry["id"].get<uint32_t>());
    if (!traits) continue;  // a type newer than our table reads as unknown, which is allowed
    // Q8_1 (a compute-only type, never stored in model files): ggml-common.h's block_q8_1 is two
    // fp16 (d, s) + 32 int8 = 36 bytes (static_assert 2*sizeof(ggml_half) + QK8_1); the gguf
    // package still lists the old float32 layout (4 + 4 + 32 = 40).
    if (name == "Q8_1") {
      EXPECT_EQ(traits->bytes_per_block, 36);
      EXPECT_EQ(entry["block_bytes"].get<int64_t>(), 40) << "the package fixed Q8_1: drop this exception";
      ++checked;
      continue;
    }
    EXPECT_EQ(traits->name, name);
    EXPECT_EQ(traits->block_size, entry["block_elements"].get<int64_t>()) << name;
    EXPECT_EQ(traits->bytes_per_block, entry["block_bytes"].get<int64_t>()) << name;
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST(Dequantize, UnsupportedTypeIsAnErrorNamingIt) {
  uint8_t block[66] = {};
  float out[256];
  const Status status = dequantize_row(TensorType::kIQ2_XXS, block, out, 256);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.code(), ErrorCode::kUnsupported);
  EXPECT_NE(status.message().find("IQ2_XXS"), std::string::npos) << status.message();
  EXPECT_FALSE(is_supported(TensorType::kQ8_1));
  EXPECT_TRUE(is_supported(TensorType::kQ6_K));
}

TEST(Dequantize, CountMustBeAMultipleOfTheBlockSize) {
  std::vector<uint8_t> blocks(2 * 144, 0);
  std::vector<float> out(512, 7.0f);
  const Status status = dequantize_row(TensorType::kQ4_K, blocks.data(), out.data(), 300);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("256"), std::string::npos) << status.message();
  EXPECT_EQ(out[0], 7.0f);  // untouched
  EXPECT_FALSE(dequantize_row(TensorType::kQ4_0, blocks.data(), out.data(), -32));
  EXPECT_TRUE(dequantize_row(TensorType::kQ4_0, nullptr, nullptr, 0));
}

}  // namespace
}  // namespace llama_worker::quant
