// The K-quant formats: 256-element super-blocks with per-sub-block integer scales.
// Byte layouts (ggml-common.h block_q2_K ... block_q6_K, QK_K = 256), offsets in bytes:
//   Q2_K (84):  scales[16] @0 (low nibble scale, high nibble min) | qs[64] @16 | fp16 d @80 | fp16 dmin @82
//               x = (d * (sc & 15)) * q - (dmin * (sc >> 4)),  q 2-bit, 16 sub-blocks of 16
//   Q3_K (110): hmask[32] @0 | qs[64] @32 | scales[12] @96 (16 x 6-bit, biased by 32) | fp16 d @108
//               x = (d * (s - 32)) * (q2 - (hbit ? 0 : 4)),   16 sub-blocks of 16
//   Q4_K (144): fp16 d @0 | fp16 dmin @2 | scales[12] @4 (8 x 6-bit scale, 8 x 6-bit min) | qs[128] @16
//               x = (d * sc) * q - (dmin * m),  q 4-bit, 8 sub-blocks of 32
//   Q5_K (176): as Q4_K, then qh[32] @16 (fifth bit) | qs[128] @48
//   Q6_K (210): ql[128] @0 | qh[64] @128 | int8 scales[16] @192 | fp16 d @208
//               x = (d * sc) * (q - 32),  q 6-bit, 16 sub-blocks of 16
// Element positions (e = 0..255 inside the super-block):
//   2-bit codes (Q2_K, Q3_K low bits): byte 32*(e/128) + e%32, bit shift 2*((e%128)/32)
//   Q3_K high bit / Q5_K fifth bit:     byte e%32, bit e/32
//   4-bit codes (Q4_K, Q5_K):           byte 32*(e/64) + e%32, low nibble when (e%64) < 32
//   Q6_K: low nibble in ql[64*(e/128) + e%32 + 32*(((e%128)/32) & 1)], low half when (e%128) < 64;
//         top two bits in qh[32*(e/128) + e%32] at shift 2*((e%128)/32)
// Sub-block of e: e/16 (16 sub-blocks) or e/32 (8 sub-blocks). The quantizers use the position
// functions below; the dequantizers write the same mapping out as loops over the block's
// structure (for speed). The round-trip tests tie the two together, the goldens pin the
// dequantizers. The float operations and their order follow ggml's dequantize_row_q*_K, which
// makes the results bit-exact.
#pragma once

#include <cstdint>
#include <cstring>

#include "gguf/tensor_type.hpp"
#include "quant/block_io.hpp"
#include "quant/k_quantizer.hpp"

namespace llama_worker::quant {

struct CodePosition {
  int byte;
  int shift;
};
inline CodePosition two_bit_position(int e) { return {32 * (e / 128) + e % 32, 2 * ((e % 128) / 32)}; }
inline CodePosition high_bit_position(int e) { return {e % 32, e / 32}; }
inline CodePosition nibble_position(int e) { return {32 * (e / 64) + e % 32, 4 * ((e % 64) / 32)}; }
inline CodePosition q6_low_position(int e) {
  return {64 * (e / 128) + e % 32 + 32 * (((e % 128) / 32) & 1), 4 * ((e % 128) / 64)};
}
inline CodePosition q6_high_position(int e) { return {32 * (e / 128) + e % 32, 2 * ((e % 128) / 32)}; }

inline void write_code(uint8_t* bytes, CodePosition at, int code) {
  bytes[at.byte] = static_cast<uint8_t>(bytes[at.byte] | (code << at.shift));
}

// Q4_K/Q5_K: eight 6-bit scales and eight 6-bit mins in 12 bytes (ggml's get_scale_min_k4).
inline void unpack_scale_min_k4(const uint8_t* packed, int j, int& scale, int& min) {
  if (j < 4) {
    scale = packed[j] & 63;
    min = packed[j + 4] & 63;
  } else {
    scale = (packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4);
    min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
  }
}
inline void pack_scale_min_k4(const AffineSuperBlock& block, uint8_t* packed) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>(block.scales[j] | ((block.scales[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>(block.mins[j] | ((block.mins[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((block.scales[j + 4] & 0x0f) | ((block.mins[j + 4] & 0x0f) << 4));
  }
}

// Q3_K: sixteen 6-bit values in 12 bytes: low nibbles in bytes 0..7 (j < 8 low, j >= 8 high
// nibble of byte j-8), the top two bits in byte 8 + j%4 at shift 2*(j/4).
inline int unpack_scale_q3(const uint8_t* packed, int j) {
  const int low = j < 8 ? (packed[j] & 0x0f) : (packed[j - 8] >> 4);
  const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}
inline void pack_scale_q3(uint8_t* packed, int j, int value) {
  packed[j < 8 ? j : j - 8] |= static_cast<uint8_t>((value & 0x0f) << (j < 8 ? 0 : 4));
  packed[8 + j % 4] |= static_cast<uint8_t>(((value >> 4) & 3) << (2 * (j / 4)));
}

struct Q2_KFormat {
  static constexpr gguf::TensorType kType = gguf::TensorType::kQ2_K;
  static constexpr int64_t kBlockElements = 256;
  static constexpr int64_t kBlockBytes = 84;
  static constexpr float kMaxMagnitude = 65504.0f;
  static constexpr int kScales = 0, kQuants = 16, kD = 80, kDmin = 82;

  static void dequantize_block(const uint8_t* block, float* out) {
    const float d = load_f16(block + kD), dmin = load_f16(block + kDmin);
    float step[16], offset[16];
    for (int s = 0; s < 16; ++s) {
      step[s] = d * static_cast<float>(block[kScales + s] & 0x0f);
      offset[s] = dmin * static_cast<float>(block[kScales + s] >> 4);
    }
    // two_bit_position written out: element 128h + 32j + l sits in qs[32h + l] at shift 2j.
    for (int h = 0; h < 2; ++h) {
      const uint8_t* qs = block + kQuants + 32 * h;
      for (int j = 0; j < 4; ++j) {
        float* y = out + 128 * h + 32 * j;
        const int s = 8 * h + 2 * j;
        for (int l = 0; l < 16; ++l) y[l] = step[s] * static_cast<float>((qs[l] >> (2 * j)) & 3) - offset[s];
        for (int l = 16; l < 32; ++l)
          y[l] = step[s + 1] * static_cast<float>((qs[l] >> (2 * j)) & 3) - offset[s + 1];
      }
    }
  }
  static void quantize_block(const float* in, uint8_t* block) {
    const AffineSuperBlock q = quantize_affine<16, 3, 15>(in);
    std::memset(block, 0, kBlockBytes);
    for (int s = 0; s < 16; ++s) block[kScales + s] = static_cast<uint8_t>(q.scales[s] | (q.mins[s] << 4));
    for (int e = 0; e < 256; ++e) write_code(block + kQuants, two_bit_position(e), q.codes[e]);
    store_u16(block + kD, q.d);
    store_u16(block + kDmin, q.dmin);
  }
};

struct Q3_KFormat {
  static constexpr gguf::TensorType kType = gguf::TensorType::kQ3_K;
  static constexpr int64_t kBlockElements = 256;
  static constexpr int64_t kBlockBytes = 110;
  static constexpr float kMaxMagnitude = 65504.0f;
  static constexpr int kHighMask = 0, kQuants = 32, kScales = 96, kD = 108;

  static void dequantize_block(const uint8_t* block, float* out) {
    const float d = load_f16(block + kD);
    float step[16];
    for (int s = 0; s < 16; ++s) step[s] = d * static_cast<float>(unpack_scale_q3(block + kScales, s) - 32);
    // Low bits as in Q2_K; the high bit of element e is bit e/32 = 4h + j of hmask[l].
    const uint8_t* hmask = block + kHighMask;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* qs = block + kQuants + 32 * h;
      for (int j = 0; j < 4; ++j) {
        float* y = out + 128 * h + 32 * j;
        const int s = 8 * h + 2 * j, bit = 4 * h + j;
        for (int l = 0; l < 32; ++l) {
          const int low = (qs[l] >> (2 * j)) & 3;
          const int high = (hmask[l] >> bit) & 1;
          y[l] = step[s + l / 16] * static_cast<float>(low - (high ? 0 : 4));
        }
      }
    }
  }
  static void quantize_block(const float* in, uint8_t* block) {
    const SymmetricSuperBlock q = quantize_symmetric<4, 31>(in);
    std::memset(block, 0, kBlockBytes);
    for (int s = 0; s < 16; ++s) pack_scale_q3(block + kScales, s, q.scales[s] + 32);
    for (int e = 0; e < 256; ++e) {
      const int biased = q.codes[e] + 4;  // 0..7: low two bits, and the high bit means "no -4"
      write_code(block + kQuants, two_bit_position(e), biased & 3);
      write_code(block + kHighMask, high_bit_position(e), biased >> 2);
    }
    store_u16(block + kD, q.d);
  }
};

// Q4_K and Q5_K share the scale layout and arithmetic; Q5_K adds a fifth bit per code.
template <gguf::TensorType kTensorType, bool kHasFifthBit>
struct Q45_KFormat {
  static constexpr gguf::TensorType kType = kTensorType;
  static constexpr int64_t kBlockElements = 256;
  static constexpr int kD = 0, kDmin = 2, kScales = 4, kHighBits = 16;
  static constexpr int kQuants = kHasFifthBit ? 48 : 16;
  static constexpr int64_t kBlockBytes = kQuants + 128;
  static constexpr int kMaxCode = kHasFifthBit ? 31 : 15;
  static constexpr float kMaxMagnitude = 65504.0f;

  static void dequantize_block(const uint8_t* block, float* out) {
    const float d = load_f16(block + kD), dmin = load_f16(block + kDmin);
    float step[8], offset[8];
    for (int s = 0; s < 8; ++s) {
      int scale = 0, min = 0;
      unpack_scale_min_k4(block + kScales, s, scale, min);
      step[s] = d * static_cast<float>(scale);
      offset[s] = dmin * static_cast<float>(min);
    }
    // nibble_position written out: elements 64c + l and 64c + 32 + l share qs[32c + l]; their
    // fifth bits are bits 2c and 2c + 1 of qh[l].
    const uint8_t* high_bits = block + kHighBits;
    for (int c = 0; c < 4; ++c) {
      const uint8_t* qs = block + kQuants + 32 * c;
      float* y = out + 64 * c;
      for (int l = 0; l < 32; ++l) {
        int low = qs[l] & 15, high = qs[l] >> 4;
        if constexpr (kHasFifthBit) {
          low += ((high_bits[l] >> (2 * c)) & 1) << 4;
          high += ((high_bits[l] >> (2 * c + 1)) & 1) << 4;
        }
        y[l] = step[2 * c] * static_cast<float>(low) - offset[2 * c];
        y[l + 32] = step[2 * c + 1] * static_cast<float>(high) - offset[2 * c + 1];
      }
    }
  }
  static void quantize_block(const float* in, uint8_t* block) {
    const AffineSuperBlock q = quantize_affine<8, kMaxCode, 63>(in);
    std::memset(block, 0, kBlockBytes);
    store_u16(block + kD, q.d);
    store_u16(block + kDmin, q.dmin);
    pack_scale_min_k4(q, block + kScales);
    for (int e = 0; e < 256; ++e) {
      write_code(block + kQuants, nibble_position(e), q.codes[e] & 15);
      if constexpr (kHasFifthBit) write_code(block + kHighBits, high_bit_position(e), q.codes[e] >> 4);
    }
  }
};

using Q4_KFormat = Q45_KFormat<gguf::TensorType::kQ4_K, false>;
using Q5_KFormat = Q45_KFormat<gguf::TensorType::kQ5_K, true>;

struct Q6_KFormat {
  static constexpr gguf::TensorType kType = gguf::TensorType::kQ6_K;
  static constexpr int64_t kBlockElements = 256;
  static constexpr int64_t kBlockBytes = 210;
  static constexpr float kMaxMagnitude = 65504.0f;
  static constexpr int kLow = 0, kHigh = 128, kScales = 192, kD = 208;

  static void dequantize_block(const uint8_t* block, float* out) {
    const float d = load_f16(block + kD);
    float step[16];
    for (int s = 0; s < 16; ++s) step[s] = d * static_cast<float>(static_cast<int8_t>(block[kScales + s]));
    // q6_low_position / q6_high_position written out for element 128h + 32k + l.
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = block + kLow + 64 * h;
      const uint8_t* qh = block + kHigh + 32 * h;
      float* y = out + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int s = 8 * h + l / 16;
        const int q0 = ((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q1 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = step[s] * static_cast<float>(q0);
        y[l + 32] = step[s + 2] * static_cast<float>(q1);
        y[l + 64] = step[s + 4] * static_cast<float>(q2);
        y[l + 96] = step[s + 6] * static_cast<float>(q3);
      }
    }
  }
  static void quantize_block(const float* in, uint8_t* block) {
    const SymmetricSuperBlock q = quantize_symmetric<32, 127>(in);
    std::memset(block, 0, kBlockBytes);
    for (int s = 0; s < 16; ++s) block[kScales + s] = static_cast<uint8_t>(static_cast<int8_t>(q.scales[s]));
    for (int e = 0; e < 256; ++e) {
      const int biased = q.codes[e] + 32;  // 0..63
      write_code(block + kLow, q6_low_position(e), biased & 15);
      write_code(block + kHigh, q6_high_position(e), biased >> 4);
    }
    store_u16(block + kD, q.d);
  }
};

}  // namespace llama_worker::quant
