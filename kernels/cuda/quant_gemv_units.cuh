// Decode-path weight access for the quantized matrix-vector product (quant_gemv.cu): every
// supported ggml type is read in "units" of 32 weights, one unit per lane per step, with the
// widest loads its block alignment allows (Q4_K: one 16-byte load of nibbles; Q6_K, Q5_0, Q8_0:
// 2-byte loads, since their blocks are only 2-byte aligned inside a row).
//
// A unit type provides:
//   kRowsPerWarp (rows sharing each activation slice: more for the 32-weight blocks, whose
//   weight bytes per activation are fewest), kUnitsPerBlock, kBlockBytes, kBlockElements
//   gather_x(x_block, unit, xs):   the 32 activations the unit multiplies, in the unit's order
//   dot(block, unit, xs):          sum over the unit of weight * activation, in fp32
//
// The products are not bit-identical to the CPU reference (sums are grouped by sub-block and the
// scale applied once per group, as ggml's own kernels do): the conformance suite bounds them by
// NMSE. Layouts are those of quant_blocks.cuh (and ggml-common.h), which name every field.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/quant_blocks.cuh"
#include "gguf/tensor_type.hpp"

namespace llama_worker::kernels::cuda::gemv {

constexpr int kUnit = 32;  // weights per unit

__device__ __forceinline__ uint16_t load_u16(const uint8_t* p) {
  return *reinterpret_cast<const uint16_t*>(p);
}

// 8 bytes from a 2-byte aligned address, as two little-endian 32-bit words.
__device__ __forceinline__ uint2 load_8_bytes_a2(const uint8_t* p) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
  return make_uint2(static_cast<uint32_t>(h[0]) | (static_cast<uint32_t>(h[1]) << 16),
                    static_cast<uint32_t>(h[2]) | (static_cast<uint32_t>(h[3]) << 16));
}

__device__ __forceinline__ float half_bits_to_float(uint16_t bits) {
  return __half2float(__ushort_as_half(bits));
}

__device__ __forceinline__ void load_x8(const float* x, float* out) {
  const float4 a = reinterpret_cast<const float4*>(x)[0];
  const float4 b = reinterpret_cast<const float4*>(x)[1];
  out[0] = a.x;
  out[1] = a.y;
  out[2] = a.z;
  out[3] = a.w;
  out[4] = b.x;
  out[5] = b.y;
  out[6] = b.z;
  out[7] = b.w;
}

// Byte k (0..3) of a 32-bit word.
__device__ __forceinline__ int byte_of(uint32_t word, int k) {
  return static_cast<int>((word >> (8 * k)) & 0xFFu);
}

// Byte k of `word` as the float 2^23 + byte, exactly: one byte permute into the exponent pattern
// 0x4B000000. Subtracting 2^23 (plus any offset) then gives the integer as a float with one
// full-rate add, where an int-to-float conversion runs at a quarter of the rate on sm_80/90 and
// bounds the kernel.
__device__ __forceinline__ float byte_as_float_biased(uint32_t word, int k) {
  return __int_as_float(static_cast<int>(__byte_perm(word, 0x4B000000u, 0x7650u | static_cast<unsigned>(k))));
}
constexpr float kTwo23 = 8388608.0f;

template <gguf::TensorType kType>
struct Unit;

// Q4_K (144 bytes: d, dmin, scales[12], qs[128]). Unit u: 64-group j = u / 2, half h = u % 2:
// qs[32 j + 16 h .. +16] hold elements 64 j + 16 h + i (low nibbles, sub-block 2 j) and
// 64 j + 32 + 16 h + i (high nibbles, sub-block 2 j + 1).
template <>
struct Unit<gguf::TensorType::kQ4_K> {
  static constexpr int kRowsPerWarp = 2;
  static constexpr int kUnitsPerBlock = 8;
  static constexpr int kBlockBytes = 144;
  static constexpr int kBlockElements = 256;
  static constexpr bool kNeeds16ByteRows = true;

  __device__ static void gather_x(const float* x, int unit, float* xs) {
    const int base = 64 * (unit / 2) + 16 * (unit % 2);
    load_x8(x + base, xs);
    load_x8(x + base + 8, xs + 8);
    load_x8(x + base + 32, xs + 16);
    load_x8(x + base + 40, xs + 24);
  }

  __device__ static float dot(const uint8_t* block, int unit, const float* xs) {
    const int j = unit / 2;
    const uint4 q = *reinterpret_cast<const uint4*>(block + 16 + 32 * j + 16 * (unit % 2));
    const uint32_t dm = *reinterpret_cast<const uint32_t*>(block);
    const float d = half_bits_to_float(static_cast<uint16_t>(dm & 0xFFFFu));
    const float dmin = half_bits_to_float(static_cast<uint16_t>(dm >> 16));
    int sc_lo = 0, m_lo = 0, sc_hi = 0, m_hi = 0;
    k4_scale_min(2 * j, block + 4, sc_lo, m_lo);
    k4_scale_min(2 * j + 1, block + 4, sc_hi, m_hi);
    const uint32_t words[4] = {q.x, q.y, q.z, q.w};
    float dot_lo = 0.0f, dot_hi = 0.0f, sum_lo = 0.0f, sum_hi = 0.0f;
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const uint32_t low = words[w] & 0x0F0F0F0Fu;
      const uint32_t high = (words[w] >> 4) & 0x0F0F0F0Fu;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const float xl = xs[4 * w + k];
        const float xh = xs[16 + 4 * w + k];
        dot_lo = fmaf(byte_as_float_biased(low, k) - kTwo23, xl, dot_lo);
        dot_hi = fmaf(byte_as_float_biased(high, k) - kTwo23, xh, dot_hi);
        sum_lo += xl;
        sum_hi += xh;
      }
    }
    return d * (static_cast<float>(sc_lo) * dot_lo + static_cast<float>(sc_hi) * dot_hi) -
           dmin * (static_cast<float>(m_lo) * sum_lo + static_cast<float>(m_hi) * sum_hi);
  }
};

// Q6_K (210 bytes: ql[128], qh[64], int8 scales[16], d). Unit u: half n = u / 4, l0 = 8 (u % 4):
// for each quarter g the 8 elements 128 n + 32 g + l0 + i, whose low bits are in
// ql[64 n + 32 (g & 1) + l0 + i] (high nibble when g >= 2), high bits in qh[32 n + l0 + i] >> 2g,
// scale scales[8 n + l0 / 16 + 2 g].
template <>
struct Unit<gguf::TensorType::kQ6_K> {
  static constexpr int kRowsPerWarp = 2;
  static constexpr int kUnitsPerBlock = 8;
  static constexpr int kBlockBytes = 210;
  static constexpr int kBlockElements = 256;
  static constexpr bool kNeeds16ByteRows = false;

  __device__ static void gather_x(const float* x, int unit, float* xs) {
    const int base = 128 * (unit / 4) + 8 * (unit % 4);
#pragma unroll
    for (int g = 0; g < 4; ++g) load_x8(x + base + 32 * g, xs + 8 * g);
  }

  __device__ static float dot(const uint8_t* block, int unit, const float* xs) {
    const int n = unit / 4;
    const int l0 = 8 * (unit % 4);
    const uint2 ql_a = load_8_bytes_a2(block + 64 * n + l0);       // g = 0 (low), g = 2 (high)
    const uint2 ql_b = load_8_bytes_a2(block + 64 * n + 32 + l0);  // g = 1 (low), g = 3 (high)
    const uint2 qh = load_8_bytes_a2(block + 128 + 32 * n + l0);
    const int8_t* scales = reinterpret_cast<const int8_t*>(block + 192 + 8 * n + l0 / 16);
    const float d = half_bits_to_float(load_u16(block + 208));
    const uint32_t a[2] = {ql_a.x, ql_a.y};
    const uint32_t b[2] = {ql_b.x, ql_b.y};
    const uint32_t h[2] = {qh.x, qh.y};
    float dots[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    constexpr float kBias = kTwo23 + 32.0f;  // the 6-bit values are stored with +32
#pragma unroll
    for (int w = 0; w < 2; ++w) {
      // Four 6-bit values per byte lane at once: low nibble | two high bits << 4.
      const uint32_t q0 = (a[w] & 0x0F0F0F0Fu) | ((h[w] & 0x03030303u) << 4);
      const uint32_t q1 = (b[w] & 0x0F0F0F0Fu) | (((h[w] >> 2) & 0x03030303u) << 4);
      const uint32_t q2 = ((a[w] >> 4) & 0x0F0F0F0Fu) | (((h[w] >> 4) & 0x03030303u) << 4);
      const uint32_t q3 = ((b[w] >> 4) & 0x0F0F0F0Fu) | (((h[w] >> 6) & 0x03030303u) << 4);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const int i = 4 * w + k;
        dots[0] = fmaf(byte_as_float_biased(q0, k) - kBias, xs[i], dots[0]);
        dots[1] = fmaf(byte_as_float_biased(q1, k) - kBias, xs[8 + i], dots[1]);
        dots[2] = fmaf(byte_as_float_biased(q2, k) - kBias, xs[16 + i], dots[2]);
        dots[3] = fmaf(byte_as_float_biased(q3, k) - kBias, xs[24 + i], dots[3]);
      }
    }
    return d * (static_cast<float>(scales[0]) * dots[0] + static_cast<float>(scales[2]) * dots[1] +
                static_cast<float>(scales[4]) * dots[2] + static_cast<float>(scales[6]) * dots[3]);
  }
};

// Q5_0 (22 bytes: d, qh (32 bits), qs[16]); one unit per block. Element j: low nibble of
// qs[j] (j < 16) or high nibble of qs[j - 16], fifth bit (qh >> j) & 1; value (q - 16) d.
template <>
struct Unit<gguf::TensorType::kQ5_0> {
  static constexpr int kRowsPerWarp = 4;
  static constexpr int kUnitsPerBlock = 1;
  static constexpr int kBlockBytes = 22;
  static constexpr int kBlockElements = 32;
  static constexpr bool kNeeds16ByteRows = false;

  __device__ static void gather_x(const float* x, int /*unit*/, float* xs) {
#pragma unroll
    for (int c = 0; c < 4; ++c) load_x8(x + 8 * c, xs + 8 * c);
  }

  __device__ static float dot(const uint8_t* block, int /*unit*/, const float* xs) {
    const float d = half_bits_to_float(load_u16(block));
    const uint32_t qh =
        static_cast<uint32_t>(load_u16(block + 2)) | (static_cast<uint32_t>(load_u16(block + 4)) << 16);
    const uint2 q0 = load_8_bytes_a2(block + 6);
    const uint2 q1 = load_8_bytes_a2(block + 14);
    const uint32_t qs[4] = {q0.x, q0.y, q1.x, q1.y};
    float sum = 0.0f;
    constexpr float kBias = kTwo23 + 16.0f;
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      // Fifth bits of elements 4w..4w+3 (and 16+4w..) spread to bit 4 of each byte lane.
      const uint32_t bits_lo = (((qh >> (4 * w)) & 0xFu) * 0x00204081u) & 0x01010101u;
      const uint32_t bits_hi = (((qh >> (16 + 4 * w)) & 0xFu) * 0x00204081u) & 0x01010101u;
      const uint32_t lo = (qs[w] & 0x0F0F0F0Fu) | (bits_lo << 4);
      const uint32_t hi = ((qs[w] >> 4) & 0x0F0F0F0Fu) | (bits_hi << 4);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        sum = fmaf(byte_as_float_biased(lo, k) - kBias, xs[4 * w + k], sum);
        sum = fmaf(byte_as_float_biased(hi, k) - kBias, xs[16 + 4 * w + k], sum);
      }
    }
    return d * sum;
  }
};

// Q8_0 (34 bytes: d, int8 qs[32]); one unit per block; value q d.
template <>
struct Unit<gguf::TensorType::kQ8_0> {
  static constexpr int kRowsPerWarp = 4;
  static constexpr int kUnitsPerBlock = 1;
  static constexpr int kBlockBytes = 34;
  static constexpr int kBlockElements = 32;
  static constexpr bool kNeeds16ByteRows = false;

  __device__ static void gather_x(const float* x, int /*unit*/, float* xs) {
#pragma unroll
    for (int c = 0; c < 4; ++c) load_x8(x + 8 * c, xs + 8 * c);
  }

  __device__ static float dot(const uint8_t* block, int /*unit*/, const float* xs) {
    const float d = half_bits_to_float(load_u16(block));
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const uint2 q = load_8_bytes_a2(block + 2 + 8 * c);
      const uint32_t words[2] = {q.x, q.y};
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        // Signed bytes: flipping the sign bit stores value + 128 as an unsigned byte.
        const float value = byte_as_float_biased(words[i / 4] ^ 0x80808080u, i % 4) - (kTwo23 + 128.0f);
        sum = fmaf(value, xs[8 * c + i], sum);
      }
    }
    return d * sum;
  }
};

}  // namespace llama_worker::kernels::cuda::gemv
