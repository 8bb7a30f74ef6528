// Bit-exact conversions between float32 and the two 16-bit float formats stored in GGUF files:
// IEEE binary16 (F16, ggml_fp16_t) and bfloat16 (BF16, ggml_bf16_t).
//
// Invariants (each pinned by a test against numpy / the gguf package):
// - Widening (f16 -> f32, bf16 -> f32) is exact for every one of the 65,536 inputs, subnormals
//   included; a NaN keeps its sign and payload bits unchanged (no quieting), as numpy does.
// - f32 -> f16 rounds to nearest, ties to even; values at or beyond 65520 become +-Inf; results
//   below the smallest subnormal round to +-0 (sign kept). A NaN stays a NaN: sign kept, the top
//   10 payload bits kept, and when those are all zero the lowest payload bit is set so the result
//   is not mistaken for Inf (numpy's rule).
// - f32 -> bf16 is ggml's rule (ggml_compute_fp32_to_bf16): NaN -> quiet NaN with the top payload
//   bits kept; everything else rounds to nearest, ties to even (overflow rounds to Inf).
// Only integer operations are used, so results do not depend on the FPU's rounding mode or on
// whether the compiler contracts or vectorises.
#pragma once

#include <bit>
#include <cstdint>

namespace llama_worker::quant {

inline float f16_to_f32(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // Inf, or NaN with its payload
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal: value = mantissa * 2^-24; normalise so the leading 1 becomes implicit.
    exponent = 113u;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

inline uint16_t f32_to_f16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) {  // NaN
    uint32_t payload = (magnitude & 0x7fffffu) >> 13;
    if (payload == 0) payload = 1;
    return static_cast<uint16_t>(sign | 0x7c00u | payload);
  }
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520: Inf
  if (magnitude >= 0x38800000u) {                                              // normal half (>= 2^-14)
    uint32_t result = (magnitude >> 13) - (112u << 10);
    const uint32_t rest = magnitude & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (result & 1u))) ++result;  // carry may bump the exponent
    return static_cast<uint16_t>(sign | result);
  }
  const uint32_t exponent = magnitude >> 23;
  if (exponent < 102u) return static_cast<uint16_t>(sign);  // below 2^-25: rounds to zero
  // Subnormal half: value = significand * 2^(exponent - 150), unit 2^-24.
  const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - exponent;  // 14..24
  uint32_t result = significand >> shift;
  const uint32_t rest = significand & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1u);
  if (rest > halfway || (rest == halfway && (result & 1u))) ++result;  // may become the smallest normal
  return static_cast<uint16_t>(sign | result);
}

inline float bf16_to_f32(uint16_t value) { return std::bit_cast<float>(static_cast<uint32_t>(value) << 16); }

inline uint16_t f32_to_bf16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
  return static_cast<uint16_t>((static_cast<uint64_t>(bits) + (0x7fffu + ((bits >> 16) & 1u))) >> 16);
}

}  // namespace llama_worker::quant
