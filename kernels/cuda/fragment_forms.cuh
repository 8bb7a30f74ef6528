// The layouts of a fragment copy (fragment_mma.cuh), one struct per FragmentForm, shared by the
// repack kernels (fragment_repack.cu), the product (fragment_mma.cu) and the host decoder.
//
// Every form is row-tile major: the bytes of row tile R (rows 16 R .. 16 R + 15) are
// tile_bytes(in) long and start at R * tile_bytes(in), so rows [16 a, 16 b) of a copy are the copy
// of those rows (a fused gate/up matrix's up half starts at a row-tile boundary). Inside a tile, a
// form's "step" is the run of inputs one 16-byte load per lane covers; a lane L = 4 g + t of the
// warp that owns the tile reads, per step, its 16 code bytes, then the step's scale record and the
// 256-input super-block record at index g (rows g and g + 8, the rows its A fragments hold):
//   [codes: steps x 32 lanes x 16 bytes][scale records: steps x kScaleBytes][supers: in/256 x kSuperBytes]
// The A-fragment slot order is fragment_mma.cuh's: slot s = ((k / 8) * 2 + r / 8) * 2 + k % 2 for
// row r and input k of a 16 x 16 tile, lane (r % 8) * 4 + (k % 8) / 2.
//
// kHalf: 1 step = 1 input tile (16 inputs), codes are the fp16 values; no records.
// kQ4K:  1 step = 4 input tiles (64 inputs, two Q4_K sub-blocks a, b); code word j (of 4) holds
//        tile j's 8 slots as nibbles (slot s in bits 4 s .. 4 s + 3): the file's 4-bit q. Scale
//        record (8 bytes per g): row g's (scale a, min a, scale b, min b) 6-bit values as bytes,
//        then row g + 8's. Super record (8 bytes per g): row g's fp16 d, dmin, then row g + 8's.
//        Value: fma(d * scale, q, -(dmin * min)), which is the reference's (d*scale)*q - dmin*min
//        bit for bit: d*scale (11 + 6 bits) and its product with q (4 more bits) are exact in fp32,
//        so the one rounding of the subtraction is the only rounding either way.
// kQ6K:  1 step = 2 input tiles (32 inputs); bytes 8 j .. 8 j + 7 hold tile j's 8 slots, each the
//        file's 6-bit q (0..63). Scale record (4 bytes per g): the int8 scales of (row g, tile 0),
//        (row g + 8, tile 0), (row g, tile 1), (row g + 8, tile 1) (Q6_K has one per 16 inputs).
//        Super record (4 bytes per g): row g's fp16 d, then row g + 8's. Value: (d * scale) * (q - 32),
//        the reference's operations.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/fragment_mma.cuh"

namespace llama_worker::kernels::cuda::fragment_forms {

constexpr int kTileRows = 16;
constexpr int kTileInputs = 16;
constexpr int kSuperInputs = 256;
constexpr int kStepBytes = 32 * 16;  // codes of one step: 16 bytes per lane

// Exact float of a small non-negative integer (< 2^23) without the slow int-to-float conversion.
__host__ __device__ __forceinline__ float small_int_float(uint32_t q) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(__uint_as_float(0x4B000000u | q), 8388608.0f);
#else
  return static_cast<float>(q);
#endif
}

struct HalfForm {
  static constexpr FragmentForm kForm = FragmentForm::kHalf;
  static constexpr int kStepInputs = 16, kTilesPerStep = 1, kScaleBytes = 0, kSuperBytes = 0;
  struct Load {
    uint4 codes;
  };
  __device__ static void load_records(const uint8_t*, int64_t, int64_t, int, Load&) {}
  __device__ static void fragment(const Load& load, int, uint32_t (&a)[4]) {
    a[0] = load.codes.x;
    a[1] = load.codes.y;
    a[2] = load.codes.z;
    a[3] = load.codes.w;
  }
};

__device__ __forceinline__ uint32_t pack_halves(float low, float high) {
  const __half2 h = __floats2half2_rn(low, high);
  return *reinterpret_cast<const uint32_t*>(&h);
}

struct Q4KForm {
  static constexpr FragmentForm kForm = FragmentForm::kQ4K;
  static constexpr int kStepInputs = 64, kTilesPerStep = 4, kScaleBytes = 64, kSuperBytes = 64;
  struct Load {
    uint4 codes;
    uint2 scales;  // rows g, g + 8: (scale a, min a, scale b, min b) bytes
    uint2 supers;  // rows g, g + 8: fp16 d | dmin << 16
  };
  __device__ static void load_records(const uint8_t* records, int64_t steps, int64_t step, int g,
                                      Load& load) {
    load.scales = *reinterpret_cast<const uint2*>(records + step * kScaleBytes + 8 * g);
    load.supers = *reinterpret_cast<const uint2*>(records + steps * kScaleBytes +
                                                  step / (kSuperInputs / kStepInputs) * kSuperBytes + 8 * g);
  }
  __device__ static void fragment(const Load& load, int j, uint32_t (&a)[4]) {
    const uint32_t word = j == 0   ? load.codes.x
                          : j == 1 ? load.codes.y
                          : j == 2 ? load.codes.z
                                   : load.codes.w;
    const int shift = 16 * (j / 2);  // sub-block a (tiles 0, 1) or b (tiles 2, 3)
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const uint32_t scales = r % 2 == 0 ? load.scales.x : load.scales.y;
      const uint32_t supers = r % 2 == 0 ? load.supers.x : load.supers.y;
      const float d = __half2float(__ushort_as_half(static_cast<unsigned short>(supers & 0xFFFF)));
      const float dmin = __half2float(__ushort_as_half(static_cast<unsigned short>(supers >> 16)));
      const float s = __fmul_rn(d, small_int_float((scales >> shift) & 0xFF));
      const float m = __fmul_rn(dmin, small_int_float((scales >> (shift + 8)) & 0xFF));
      const float low = __fmaf_rn(s, small_int_float((word >> (8 * r)) & 0xF), -m);
      const float high = __fmaf_rn(s, small_int_float((word >> (8 * r + 4)) & 0xF), -m);
      a[r] = pack_halves(low, high);
    }
  }
};

struct Q6KForm {
  static constexpr FragmentForm kForm = FragmentForm::kQ6K;
  static constexpr int kStepInputs = 32, kTilesPerStep = 2, kScaleBytes = 32, kSuperBytes = 32;
  struct Load {
    uint4 codes;
    uint32_t scales;  // int8: (g, tile 0), (g + 8, tile 0), (g, tile 1), (g + 8, tile 1)
    uint32_t supers;  // fp16 d of row g | row g + 8's << 16
  };
  __device__ static void load_records(const uint8_t* records, int64_t steps, int64_t step, int g,
                                      Load& load) {
    load.scales = *reinterpret_cast<const uint32_t*>(records + step * kScaleBytes + 4 * g);
    load.supers = *reinterpret_cast<const uint32_t*>(
        records + steps * kScaleBytes + step / (kSuperInputs / kStepInputs) * kSuperBytes + 4 * g);
  }
  __device__ static void fragment(const Load& load, int j, uint32_t (&a)[4]) {
    const uint32_t low_word = j == 0 ? load.codes.x : load.codes.z;
    const uint32_t high_word = j == 0 ? load.codes.y : load.codes.w;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const float d = __half2float(__ushort_as_half(
          static_cast<unsigned short>(r % 2 == 0 ? load.supers & 0xFFFF : load.supers >> 16)));
      const int scale = static_cast<int8_t>((load.scales >> (8 * (2 * j + r % 2))) & 0xFF);
      const float ds = __fmul_rn(d, static_cast<float>(scale));
      const uint32_t word = r < 2 ? low_word : high_word;
      const int shift = 16 * (r % 2);
      // q - 32 exactly: (2^23 + q) - (2^23 + 32).
      const float low =
          __fmul_rn(ds, __fsub_rn(__uint_as_float(0x4B000000u | ((word >> shift) & 0xFF)), 8388640.0f));
      const float high =
          __fmul_rn(ds, __fsub_rn(__uint_as_float(0x4B000000u | ((word >> (shift + 8)) & 0xFF)), 8388640.0f));
      a[r] = pack_halves(low, high);
    }
  }
};

template <typename Form>
__host__ __device__ constexpr int64_t tile_bytes(int64_t in_features) {
  const int64_t steps = in_features / Form::kStepInputs;
  return steps * (kStepBytes + Form::kScaleBytes) + in_features / kSuperInputs * Form::kSuperBytes;
}

}  // namespace llama_worker::kernels::cuda::fragment_forms
