// The 32-element block formats (ggml's "legacy" quants). One template serves the four 4/5-bit
// formats; Q8_0 has its own struct. Byte layouts (ggml-common.h, block_q*_0 / block_q*_1):
//   Q4_0: fp16 d | 16 B qs                     x = (q - 8) * d,   q in 0..15
//   Q4_1: fp16 d | fp16 m | 16 B qs            x = q * d + m,     q in 0..15
//   Q5_0: fp16 d | 4 B qh | 16 B qs            x = (q - 16) * d,  q in 0..31
//   Q5_1: fp16 d | fp16 m | 4 B qh | 16 B qs   x = q * d + m,     q in 0..31
//   Q8_0: fp16 d | 32 x int8 qs                x = q * d
// Element j < 16 is the low nibble of qs[j], element j + 16 its high nibble; the fifth bit of
// element j is bit j of qh read as a little-endian uint32.
//
// The quantizers are ggml's reference ones (quantize_row_q*_ref), which the gguf Python package
// reimplements: the goldens check both bit-exactly. Codes are derived from the float32 scale
// (not its fp16 rounding), as the reference does.
#pragma once

#include <cmath>
#include <cstdint>

#include "gguf/tensor_type.hpp"
#include "quant/block_io.hpp"

namespace llama_worker::quant {

template <gguf::TensorType kTensorType, bool kHasMin, bool kHasFifthBit>
struct Legacy32Format {
  static constexpr gguf::TensorType kType = kTensorType;
  static constexpr int64_t kBlockElements = 32;
  static constexpr int kLevels = kHasFifthBit ? 32 : 16;  // q in 0..kLevels-1
  static constexpr int64_t kMinOffset = 2;
  static constexpr int64_t kHighBitsOffset = kHasMin ? 4 : 2;
  static constexpr int64_t kQuantsOffset = kHighBitsOffset + (kHasFifthBit ? 4 : 0);
  static constexpr int64_t kBlockBytes = kQuantsOffset + 16;
  static constexpr float kMaxMagnitude = 65504.0f;

  static void dequantize_block(const uint8_t* block, float* out) {
    const float d = load_f16(block);
    const float m = kHasMin ? load_f16(block + kMinOffset) : 0.0f;
    const uint32_t high = kHasFifthBit ? load_u32(block + kHighBitsOffset) : 0u;
    const uint8_t* qs = block + kQuantsOffset;
    for (int j = 0; j < 16; ++j) {
      const int low_code = (qs[j] & 0x0f) | static_cast<int>(((high >> j) & 1u) << 4);
      const int high_code = (qs[j] >> 4) | static_cast<int>(((high >> (j + 16)) & 1u) << 4);
      if constexpr (kHasMin) {
        out[j] = static_cast<float>(low_code) * d + m;
        out[j + 16] = static_cast<float>(high_code) * d + m;
      } else {
        out[j] = static_cast<float>(low_code - kLevels / 2) * d;
        out[j + 16] = static_cast<float>(high_code - kLevels / 2) * d;
      }
    }
  }

  static void quantize_block(const float* in, uint8_t* block) {
    int codes[32];
    if constexpr (kHasMin) {
      float min = in[0], max = in[0];
      for (int j = 1; j < 32; ++j) {
        min = std::min(min, in[j]);
        max = std::max(max, in[j]);
      }
      const float d = (max - min) / static_cast<float>(kLevels - 1);
      const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
      for (int j = 0; j < 32; ++j) {
        codes[j] = std::min(kLevels - 1, static_cast<int>((in[j] - min) * inverse + 0.5f));
      }
      store_f16(block, d);
      store_f16(block + kMinOffset, min);
    } else {
      float signed_max = 0.0f, abs_max = 0.0f;  // the value of largest magnitude, first one wins
      for (int j = 0; j < 32; ++j) {
        if (std::fabs(in[j]) > abs_max) {
          abs_max = std::fabs(in[j]);
          signed_max = in[j];
        }
      }
      const float d = signed_max / static_cast<float>(-kLevels / 2);
      const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
      const float offset = static_cast<float>(kLevels / 2) + 0.5f;
      for (int j = 0; j < 32; ++j) {
        codes[j] = std::min(kLevels - 1, static_cast<int>(in[j] * inverse + offset));
      }
      store_f16(block, d);
    }
    uint32_t high = 0;
    uint8_t* qs = block + kQuantsOffset;
    for (int j = 0; j < 16; ++j) {
      qs[j] = static_cast<uint8_t>((codes[j] & 0x0f) | ((codes[j + 16] & 0x0f) << 4));
      high |= static_cast<uint32_t>((codes[j] >> 4) & 1) << j;
      high |= static_cast<uint32_t>((codes[j + 16] >> 4) & 1) << (j + 16);
    }
    if constexpr (kHasFifthBit) store_u32(block + kHighBitsOffset, high);
  }
};

using Q4_0Format = Legacy32Format<gguf::TensorType::kQ4_0, false, false>;
using Q4_1Format = Legacy32Format<gguf::TensorType::kQ4_1, true, false>;
using Q5_0Format = Legacy32Format<gguf::TensorType::kQ5_0, false, true>;
using Q5_1Format = Legacy32Format<gguf::TensorType::kQ5_1, true, true>;

struct Q8_0Format {
  static constexpr gguf::TensorType kType = gguf::TensorType::kQ8_0;
  static constexpr int64_t kBlockElements = 32;
  static constexpr int64_t kBlockBytes = 34;
  static constexpr float kMaxMagnitude = 65504.0f;

  static void dequantize_block(const uint8_t* block, float* out) {
    const float d = load_f16(block);
    for (int j = 0; j < 32; ++j) out[j] = static_cast<float>(static_cast<int8_t>(block[2 + j])) * d;
  }

  static void quantize_block(const float* in, uint8_t* block) {
    float abs_max = 0.0f;
    for (int j = 0; j < 32; ++j) abs_max = std::max(abs_max, std::fabs(in[j]));
    const float d = abs_max / 127.0f;
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(block, d);
    for (int j = 0; j < 32; ++j) {
      block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(round_clamp(in[j] * inverse, -127, 127)));
    }
  }
};

}  // namespace llama_worker::quant
