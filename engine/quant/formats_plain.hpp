// The unquantized storage formats, as block formats of one element each, so the row loops in
// dequantize.cpp / quantize.cpp serve them like every other format.
//   F32:  4 bytes, IEEE binary32 little-endian
//   F16:  2 bytes, IEEE binary16 little-endian
//   BF16: 2 bytes, bfloat16 (the top half of a binary32) little-endian
#pragma once

#include <bit>
#include <cstdint>

#include "gguf/tensor_type.hpp"
#include "quant/block_io.hpp"

namespace llama_worker::quant {

struct F32Format {
  static constexpr gguf::TensorType kType = gguf::TensorType::kF32;
  static constexpr int64_t kBlockElements = 1;
  static constexpr int64_t kBlockBytes = 4;
  static constexpr float kMaxMagnitude = 3.4028234663852886e38f;
  static void dequantize_block(const uint8_t* block, float* out) {
    out[0] = std::bit_cast<float>(load_u32(block));
  }
  static void quantize_block(const float* in, uint8_t* block) {
    store_u32(block, std::bit_cast<uint32_t>(in[0]));
  }
};

struct F16Format {
  static constexpr gguf::TensorType kType = gguf::TensorType::kF16;
  static constexpr int64_t kBlockElements = 1;
  static constexpr int64_t kBlockBytes = 2;
  static constexpr float kMaxMagnitude = 65504.0f;
  static void dequantize_block(const uint8_t* block, float* out) { out[0] = load_f16(block); }
  static void quantize_block(const float* in, uint8_t* block) { store_u16(block, f32_to_f16(in[0])); }
};

struct BF16Format {
  static constexpr gguf::TensorType kType = gguf::TensorType::kBF16;
  static constexpr int64_t kBlockElements = 1;
  static constexpr int64_t kBlockBytes = 2;
  static constexpr float kMaxMagnitude = 3.3895313892515355e38f;  // largest finite bf16
  static void dequantize_block(const uint8_t* block, float* out) { out[0] = bf16_to_f32(load_u16(block)); }
  static void quantize_block(const float* in, uint8_t* block) { store_u16(block, f32_to_bf16(in[0])); }
};

}  // namespace llama_worker::quant
