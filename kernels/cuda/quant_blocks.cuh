// Device-side decoding of GGUF weight blocks: one traits struct per ggml type, each able to
// decode any run of 8 consecutive elements of a block ("chunk") into fp32 registers. Every
// kernel that reads quantized weights (matmul, embedding lookup) is written once against
// these traits and instantiated per type in quant_dispatch.cuh.
//
// Values are bit-exact with quant::dequantize_row (the CPU reference decoder, itself proven
// against the gguf Python package): the same operations in the same order, with explicit
// round-to-nearest intrinsics (__fmul_rn, __fsub_rn, __fadd_rn) so nvcc cannot contract a*b+c
// into an FMA that the CPU reference does not use.
//
// Blocks are only 2-byte aligned inside a row (Q4_0 is 18 bytes), so multi-byte fields are
// assembled from bytes or 16-bit loads; never cast a block pointer to a wider type.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "gguf/tensor_type.hpp"

namespace llama_worker::kernels::cuda {

constexpr int kChunk = 8;  // elements decoded per call

__device__ __forceinline__ float load_f16(const uint8_t* p) {
  const uint16_t bits = static_cast<uint16_t>(p[0] | (p[1] << 8));
  return __half2float(__ushort_as_half(bits));
}

__device__ __forceinline__ float load_bf16(const uint8_t* p) {
  const uint32_t bits = static_cast<uint32_t>(p[0] | (p[1] << 8)) << 16;
  return __uint_as_float(bits);
}

__device__ __forceinline__ uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// Q4_K / Q5_K 6-bit sub-block scale and min (ggml's get_scale_min_k4), from the 12 scale bytes.
__device__ __forceinline__ void k4_scale_min(int j, const uint8_t* scales, int& scale, int& min) {
  if (j < 4) {
    scale = scales[j] & 63;
    min = scales[j + 4] & 63;
  } else {
    scale = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
    min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

template <gguf::TensorType kType>
struct BlockTraits;

// Plain types: a "block" is one chunk of 8 elements, so rows must hold a multiple of 8.
template <>
struct BlockTraits<gguf::TensorType::kF32> {
  static constexpr int kElements = kChunk;
  static constexpr int kBytes = 4 * kChunk;
  __device__ static void decode(const uint8_t* block, int /*first*/, float* out) {
    for (int i = 0; i < kChunk; ++i) out[i] = __uint_as_float(load_u32(block + 4 * i));
  }
};

template <>
struct BlockTraits<gguf::TensorType::kF16> {
  static constexpr int kElements = kChunk;
  static constexpr int kBytes = 2 * kChunk;
  __device__ static void decode(const uint8_t* block, int /*first*/, float* out) {
    for (int i = 0; i < kChunk; ++i) out[i] = load_f16(block + 2 * i);
  }
};

template <>
struct BlockTraits<gguf::TensorType::kBF16> {
  static constexpr int kElements = kChunk;
  static constexpr int kBytes = 2 * kChunk;
  __device__ static void decode(const uint8_t* block, int /*first*/, float* out) {
    for (int i = 0; i < kChunk; ++i) out[i] = load_bf16(block + 2 * i);
  }
};

// Q4_0: fp16 d, 16 bytes; element j < 16 is the low nibble of qs[j], j >= 16 the high nibble
// of qs[j - 16]; value (q - 8) * d.
template <>
struct BlockTraits<gguf::TensorType::kQ4_0> {
  static constexpr int kElements = 32;
  static constexpr int kBytes = 18;
  __device__ static void decode(const uint8_t* block, int first, float* out) {
    const float d = load_f16(block);
    const uint8_t* qs = block + 2;
    for (int i = 0; i < kChunk; ++i) {
      const int j = first + i;
      const int q = j < 16 ? (qs[j] & 0xF) : (qs[j - 16] >> 4);
      out[i] = __fmul_rn(static_cast<float>(q - 8), d);
    }
  }
};

// Q4_1: fp16 d, fp16 m, 16 bytes; value q * d + m.
template <>
struct BlockTraits<gguf::TensorType::kQ4_1> {
  static constexpr int kElements = 32;
  static constexpr int kBytes = 20;
  __device__ static void decode(const uint8_t* block, int first, float* out) {
    const float d = load_f16(block);
    const float m = load_f16(block + 2);
    const uint8_t* qs = block + 4;
    for (int i = 0; i < kChunk; ++i) {
      const int j = first + i;
      const int q = j < 16 ? (qs[j] & 0xF) : (qs[j - 16] >> 4);
      out[i] = __fadd_rn(__fmul_rn(static_cast<float>(q), d), m);
    }
  }
};

// Q5_0: fp16 d, 32 high bits qh, 16 bytes of low nibbles; value (q - 16) * d.
template <>
struct BlockTraits<gguf::TensorType::kQ5_0> {
  static constexpr int kElements = 32;
  static constexpr int kBytes = 22;
  __device__ static void decode(const uint8_t* block, int first, float* out) {
    const float d = load_f16(block);
    const uint32_t qh = load_u32(block + 2);
    const uint8_t* qs = block + 6;
    for (int i = 0; i < kChunk; ++i) {
      const int j = first + i;
      const int low = j < 16 ? (qs[j] & 0xF) : (qs[j - 16] >> 4);
      const int high = static_cast<int>((qh >> j) & 1u) << 4;
      out[i] = __fmul_rn(static_cast<float>((low | high) - 16), d);
    }
  }
};

// Q5_1: fp16 d, fp16 m, qh, 16 bytes; value q * d + m.
template <>
struct BlockTraits<gguf::TensorType::kQ5_1> {
  static constexpr int kElements = 32;
  static constexpr int kBytes = 24;
  __device__ static void decode(const uint8_t* block, int first, float* out) {
    const float d = load_f16(block);
    const float m = load_f16(block + 2);
    const uint32_t qh = load_u32(block + 4);
    const uint8_t* qs = block + 8;
    for (int i = 0; i < kChunk; ++i) {
      const int j = first + i;
      const int low = j < 16 ? (qs[j] & 0xF) : (qs[j - 16] >> 4);
      const int high = static_cast<int>((qh >> j) & 1u) << 4;
      out[i] = __fadd_rn(__fmul_rn(static_cast<float>(low | high), d), m);
    }
  }
};

// Q8_0: fp16 d, 32 signed bytes; value q * d.
template <>
struct BlockTraits<gguf::TensorType::kQ8_0> {
  static constexpr int kElements = 32;
  static constexpr int kBytes = 34;
  __device__ static void decode(const uint8_t* block, int first, float* out) {
    const float d = load_f16(block);
    const int8_t* qs = reinterpret_cast<const int8_t*>(block + 2);
    for (int i = 0; i < kChunk; ++i) out[i] = __fmul_rn(static_cast<float>(qs[first + i]), d);
  }
};

// Q2_K: scales[16] (4-bit scale | 4-bit min), qs[64] (2 bits each), fp16 d, fp16 dmin.
// Element e: half n = e / 128, shift group g = (e % 128) / 32, l = e % 32;
// byte qs[32 n + l] >> 2g, sub-block scale index 8 n + 2 g + (l >= 16).
template <>
struct BlockTraits<gguf::TensorType::kQ2_K> {
  static constexpr int kElements = 256;
  static constexpr int kBytes = 84;
  __device__ static void decode(const uint8_t* block, int first, float* out) {
    const uint8_t* scales = block;
    const uint8_t* qs = block + 16;
    const float d = load_f16(block + 80);
    const float dmin = load_f16(block + 82);
    const int n = first / 128;
    const int g = (first % 128) / 32;
    const int l0 = first % 32;  // a chunk never straddles a 16-element sub-block
    const int sc = scales[8 * n + 2 * g + (l0 >= 16 ? 1 : 0)];
    const float dl = __fmul_rn(d, static_cast<float>(sc & 0xF));
    const float ml = __fmul_rn(dmin, static_cast<float>(sc >> 4));
    for (int i = 0; i < kChunk; ++i) {
      const int q = (qs[32 * n + l0 + i] >> (2 * g)) & 3;
      out[i] = __fsub_rn(__fmul_rn(dl, static_cast<float>(q)), ml);
    }
  }
};

// Q3_K: hmask[32], qs[64], scales[12] (sixteen 6-bit signed scales, packed), fp16 d.
template <>
struct BlockTraits<gguf::TensorType::kQ3_K> {
  static constexpr int kElements = 256;
  static constexpr int kBytes = 110;
  __device__ static void decode(const uint8_t* block, int first, float* out) {
    const uint8_t* hmask = block;
    const uint8_t* qs = block + 32;
    const uint8_t* packed = block + 96;
    const float d_all = load_f16(block + 108);
    const int n = first / 128;
    const int g = (first % 128) / 32;
    const int l0 = first % 32;
    const int is = 8 * n + 2 * g + (l0 >= 16 ? 1 : 0);
    // Unpack scale `is`: low 4 bits from packed[is % 8] (nibble is / 8), high 2 bits from
    // packed[8 + is % 4] (bits 2 * (is / 4)).
    const int low = (packed[is % 8] >> (4 * (is / 8))) & 0xF;
    const int high = (packed[8 + is % 4] >> (2 * (is / 4))) & 3;
    const int scale = (low | (high << 4)) - 32;
    const float dl = __fmul_rn(d_all, static_cast<float>(scale));
    const int mask = 1 << (4 * n + g);
    for (int i = 0; i < kChunk; ++i) {
      const int l = l0 + i;
      const int q = ((qs[32 * n + l] >> (2 * g)) & 3) - ((hmask[l] & mask) ? 0 : 4);
      out[i] = __fmul_rn(dl, static_cast<float>(q));
    }
  }
};

// Q4_K: fp16 d, fp16 dmin, scales[12] (eight 6-bit scale/min pairs), qs[128].
// Element e: 64-group j = e / 64, r = e % 64; byte qs[32 j + r % 32], low nibble when r < 32.
template <>
struct BlockTraits<gguf::TensorType::kQ4_K> {
  static constexpr int kElements = 256;
  static constexpr int kBytes = 144;
  __device__ static void decode(const uint8_t* block, int first, float* out) {
    const float d = load_f16(block);
    const float dmin = load_f16(block + 2);
    const uint8_t* scales = block + 4;
    const uint8_t* qs = block + 16;
    const int j = first / 64;
    const int r0 = first % 64;
    const bool high_nibble = r0 >= 32;
    int scale = 0;
    int min = 0;
    k4_scale_min(2 * j + (high_nibble ? 1 : 0), scales, scale, min);
    const float d1 = __fmul_rn(d, static_cast<float>(scale));
    const float m1 = __fmul_rn(dmin, static_cast<float>(min));
    for (int i = 0; i < kChunk; ++i) {
      const uint8_t byte = qs[32 * j + (r0 % 32) + i];
      const int q = high_nibble ? (byte >> 4) : (byte & 0xF);
      out[i] = __fsub_rn(__fmul_rn(d1, static_cast<float>(q)), m1);
    }
  }
};

// Q5_K: fp16 d, fp16 dmin, scales[12], qh[32], qs[128]; Q4_K plus a fifth bit from qh.
template <>
struct BlockTraits<gguf::TensorType::kQ5_K> {
  static constexpr int kElements = 256;
  static constexpr int kBytes = 176;
  __device__ static void decode(const uint8_t* block, int first, float* out) {
    const float d = load_f16(block);
    const float dmin = load_f16(block + 2);
    const uint8_t* scales = block + 4;
    const uint8_t* qh = block + 16;
    const uint8_t* qs = block + 48;
    const int j = first / 64;
    const int r0 = first % 64;
    const bool high_nibble = r0 >= 32;
    const int sub = 2 * j + (high_nibble ? 1 : 0);
    int scale = 0;
    int min = 0;
    k4_scale_min(sub, scales, scale, min);
    const float d1 = __fmul_rn(d, static_cast<float>(scale));
    const float m1 = __fmul_rn(dmin, static_cast<float>(min));
    const int bit = 1 << sub;
    for (int i = 0; i < kChunk; ++i) {
      const int l = (r0 % 32) + i;
      const uint8_t byte = qs[32 * j + l];
      const int q = (high_nibble ? (byte >> 4) : (byte & 0xF)) + ((qh[l] & bit) ? 16 : 0);
      out[i] = __fsub_rn(__fmul_rn(d1, static_cast<float>(q)), m1);
    }
  }
};

// Q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], fp16 d.
// Element e: half n = e / 128, quarter g = (e % 128) / 32, l = e % 32;
// low bits from ql[64 n + l + 32 (g & 1)] (high nibble when g >= 2), high bits
// (qh[32 n + l] >> 2g) & 3, scale scales[8 n + l / 16 + 2 g]; value d * scale * (q - 32).
template <>
struct BlockTraits<gguf::TensorType::kQ6_K> {
  static constexpr int kElements = 256;
  static constexpr int kBytes = 210;
  __device__ static void decode(const uint8_t* block, int first, float* out) {
    const uint8_t* ql = block;
    const uint8_t* qh = block + 128;
    const int8_t* scales = reinterpret_cast<const int8_t*>(block + 192);
    const float d = load_f16(block + 208);
    const int n = first / 128;
    const int g = (first % 128) / 32;
    const int l0 = first % 32;
    const float ds = __fmul_rn(d, static_cast<float>(scales[8 * n + l0 / 16 + 2 * g]));
    for (int i = 0; i < kChunk; ++i) {
      const int l = l0 + i;
      const uint8_t low_byte = ql[64 * n + l + 32 * (g & 1)];
      const int low = g >= 2 ? (low_byte >> 4) : (low_byte & 0xF);
      const int high = (qh[32 * n + l] >> (2 * g)) & 3;
      out[i] = __fmul_rn(ds, static_cast<float>((low | (high << 4)) - 32));
    }
  }
};

}  // namespace llama_worker::kernels::cuda
