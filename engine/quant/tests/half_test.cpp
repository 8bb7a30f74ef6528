// f32 <-> f16 / bf16 conversions: against numpy's float16 (golden/quant/f32_to_f16.bin) and
// exhaustive round trips over every 16-bit pattern.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "golden_file.hpp"
#include "quant/half.hpp"

namespace llama_worker::quant {
namespace {

TEST(Half, F32ToF16MatchesNumpyBitExactly) {
  const auto golden = testing::read_golden("f32_to_f16.bin");
  ASSERT_TRUE(golden.error.empty()) << golden.error;
  const auto& input = golden.sections.at("input");
  const auto& expected = golden.sections.at("expected");
  ASSERT_EQ(input.size(), 2 * expected.size());
  int mismatches = 0;
  for (size_t i = 0; i < expected.size() / 2 && mismatches < 10; ++i) {
    const uint32_t bits = input[4 * i] | (input[4 * i + 1] << 8) | (input[4 * i + 2] << 16) |
                          (static_cast<uint32_t>(input[4 * i + 3]) << 24);
    const uint16_t want = static_cast<uint16_t>(expected[2 * i] | (expected[2 * i + 1] << 8));
    const uint16_t got = f32_to_f16(std::bit_cast<float>(bits));
    if (got != want) {
      ++mismatches;
      ADD_FAILURE() << std::hex << "f32 0x" << bits << ": got 0x" << got << ", numpy 0x" << want;
    }
  }
  EXPECT_GT(expected.size(), 30000u);
}

TEST(Half, EveryF16RoundTripsThroughF32) {
  for (uint32_t h = 0; h < 65536; ++h) {
    ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

TEST(Half, EveryBf16RoundTripsThroughF32ExceptSignalingNans) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const bool signaling_nan = (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0 && (h & 0x40u) == 0;
    const uint16_t back = f32_to_bf16(bf16_to_f32(static_cast<uint16_t>(h)));
    if (signaling_nan) {
      EXPECT_EQ(back, h | 0x40u) << "ggml quiets NaNs";
    } else {
      ASSERT_EQ(back, h) << std::hex << h;
    }
  }
}

TEST(Half, SpecialValues) {
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // halfway to 65536: ties to even = Inf
  EXPECT_EQ(f32_to_f16(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie to even: zero
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 units: tie to even = 2
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie to even, down
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie to even, up
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // overflows to Inf
  EXPECT_EQ(bf16_to_f32(0xbf80), -1.0f);
}

}  // namespace
}  // namespace llama_worker::quant
