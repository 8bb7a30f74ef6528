// Little-endian field access inside a quantized block, and the rounding helpers the quantizers
// share. Blocks are read and written byte by byte: a block inside a GGUF mapping has no
// alignment guarantee (an 18-byte Q4_0 block starts at any offset), and byte access makes the
// code independent of the host's byte order.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "quant/half.hpp"

namespace llama_worker::quant {

inline uint16_t load_u16(const uint8_t* bytes) {
  return static_cast<uint16_t>(bytes[0] | (static_cast<uint16_t>(bytes[1]) << 8));
}
inline uint32_t load_u32(const uint8_t* bytes) {
  return static_cast<uint32_t>(bytes[0]) | (static_cast<uint32_t>(bytes[1]) << 8) |
         (static_cast<uint32_t>(bytes[2]) << 16) | (static_cast<uint32_t>(bytes[3]) << 24);
}
inline void store_u16(uint8_t* bytes, uint16_t value) {
  bytes[0] = static_cast<uint8_t>(value);
  bytes[1] = static_cast<uint8_t>(value >> 8);
}
inline void store_u32(uint8_t* bytes, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
}
inline float load_f16(const uint8_t* bytes) { return f16_to_f32(load_u16(bytes)); }

// Stores `value` as fp16 and returns what a reader will see (the rounded value), so a quantizer
// derives its integer codes from the scale that is actually stored.
inline float store_f16(uint8_t* bytes, float value) {
  const uint16_t half = f32_to_f16(value);
  store_u16(bytes, half);
  return f16_to_f32(half);
}

// Rounds half away from zero (C's roundf, what ggml's reference quantizers use) and clamps.
// std::round is exact and independent of the FPU rounding mode.
inline int round_clamp(float value, int low, int high) {
  const float rounded = std::round(value);
  if (!(rounded >= static_cast<float>(low))) return low;  // also catches NaN
  if (rounded > static_cast<float>(high)) return high;
  return static_cast<int>(rounded);
}

}  // namespace llama_worker::quant
