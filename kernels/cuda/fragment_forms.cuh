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
//        tile j's 8 slots as nibbles, slot 2 r + h in bits 16 h + 4 r (so one shift and one mask
//        put a register's two nibbles into the two halves of a half2): the file's 4-bit q. Scale
//        record (8 bytes per g): row g's (scale a, min a, scale b, min b) 6-bit values as bytes,
//        then row g + 8's. Super record (8 bytes per g): row g's fp16 d, dmin, then row g + 8's.
// kQ6K:  1 step = 2 input tiles (32 inputs); bytes 8 j .. 8 j + 7 hold tile j's 8 slots, each the
//        file's 6-bit q (0..63). Scale record (4 bytes per g): the int8 scales of (row g, tile 0),
//        (row g + 8, tile 0), (row g, tile 1), (row g + 8, tile 1) (Q6_K has one per 16 inputs).
//        Super record (4 bytes per g): row g's fp16 d, then row g + 8's.
// kQ8:   Q8_0, Q5_0 and Q4_0 (value d * q, q a signed integer of 8, 5 or 4 bits): 1 step = 2 input
//        tiles (32 inputs, one file block); bytes as kQ6K's, each q + 128. Scale record (4 bytes
//        per g): row g's fp16 d, then row g + 8's; no super records. The kernel's fp16 product
//        q * d is exact before its one rounding, so these weights are the kHalf copy's bit for bit.
// The coded forms hold the file's values losslessly (coded_fragments_to_rows decodes them to the
// reference decoder's values bit for bit). The kernel computes each weight in fp16 arithmetic, two
// at a time: q exactly (2^10 + q built from the bits, minus 2^10), then Q4_K fma(q, s, -m) and Q6_K
// s * (q - 32), with s = fp16(d * scale) and m = fp16(dmin * min) rounded once from their exact
// fp32 products, and one rounding of the result: within about one fp16 rounding of the value the
// kHalf copy holds (the products' NMSE against the CPU reference is checked in the same budget).
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/fragment_mma.cuh"

namespace llama_worker::kernels::cuda::fragment_forms {

constexpr int kTileRows = 16;
constexpr int kTileInputs = 16;
constexpr int kSuperInputs = 256;
constexpr int kStepBytes = 32 * 16;  // codes of one step: 16 bytes per lane

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

__device__ __forceinline__ uint32_t half2_bits(__half2 h) { return *reinterpret_cast<const uint32_t*>(&h); }
__device__ __forceinline__ __half2 bits_half2(uint32_t bits) {
  return *reinterpret_cast<const __half2*>(&bits);
}
// fp16 of an exact fp32 product of an fp16 and a small integer, broadcast to both halves.
__device__ __forceinline__ __half2 scale_pair(uint32_t half_bits, int integer) {
  const float value = __fmul_rn(__half2float(__ushort_as_half(static_cast<unsigned short>(half_bits))),
                                static_cast<float>(integer));
  return __float2half2_rn(value);
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
    __half2 s[2], m[2];
#pragma unroll
    for (int row = 0; row < 2; ++row) {
      const uint32_t scales = row == 0 ? load.scales.x : load.scales.y;
      const uint32_t supers = row == 0 ? load.supers.x : load.supers.y;
      s[row] = scale_pair(supers & 0xFFFF, static_cast<int>((scales >> shift) & 0xFF));
      m[row] = __hneg2(scale_pair(supers >> 16, static_cast<int>((scales >> (shift + 8)) & 0xFF)));
    }
    const __half2 offset = bits_half2(0x64006400u);  // 1024, 1024
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const __half2 q = __hsub2(bits_half2(((word >> (4 * r)) & 0x000F000Fu) | 0x64006400u), offset);
      a[r] = half2_bits(__hfma2(q, s[r % 2], m[r % 2]));
    }
  }
};

// The A fragment of tile j from one byte per weight (codes of the Q6_K and byte forms): bytes
// 2 (r % 2) and 2 (r % 2) + 1 of a word under the exponent byte 0x64 make the halves 1024 + code
// twice; minus `offset` (1024 + the code's bias, twice) that is the signed weight, times the
// row's scale (scales[0] row g, scales[1] row g + 8).
__device__ __forceinline__ void byte_code_fragment(const uint4& codes, int j, __half2 offset,
                                                   const __half2 (&scales)[2], uint32_t (&a)[4]) {
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const uint32_t word = r < 2 ? (j == 0 ? codes.x : codes.z) : (j == 0 ? codes.y : codes.w);
    const uint32_t selector = r % 2 == 0 ? 0x4140u : 0x4342u;
    const __half2 q = __hsub2(bits_half2(__byte_perm(word, 0x64646464u, selector)), offset);
    a[r] = half2_bits(__hmul2(q, scales[r % 2]));
  }
}

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
    __half2 s[2];
#pragma unroll
    for (int row = 0; row < 2; ++row) {
      const int scale = static_cast<int8_t>((load.scales >> (8 * (2 * j + row))) & 0xFF);
      s[row] = scale_pair(row == 0 ? load.supers & 0xFFFF : load.supers >> 16, scale);
    }
    byte_code_fragment(load.codes, j, bits_half2(0x64206420u), s, a);  // offset 1056 = 1024 + 32
  }
};

struct ByteForm {
  static constexpr FragmentForm kForm = FragmentForm::kQ8;
  static constexpr int kStepInputs = 32, kTilesPerStep = 2, kScaleBytes = 32, kSuperBytes = 0;
  struct Load {
    uint4 codes;
    uint32_t scales;  // fp16 d of row g | row g + 8's << 16 (the 32-input block's)
  };
  __device__ static void load_records(const uint8_t* records, int64_t, int64_t step, int g, Load& load) {
    load.scales = *reinterpret_cast<const uint32_t*>(records + step * kScaleBytes + 4 * g);
  }
  __device__ static void fragment(const Load& load, int j, uint32_t (&a)[4]) {
    const __half2 d[2] = {__half2half2(__ushort_as_half(static_cast<unsigned short>(load.scales & 0xFFFF))),
                          __half2half2(__ushort_as_half(static_cast<unsigned short>(load.scales >> 16)))};
    byte_code_fragment(load.codes, j, bits_half2(0x64806480u), d, a);  // offset 1152 = 1024 + 128
  }
};

template <typename Form>
__host__ __device__ constexpr int64_t tile_bytes(int64_t in_features) {
  const int64_t steps = in_features / Form::kStepInputs;
  return steps * (kStepBytes + Form::kScaleBytes) + in_features / kSuperInputs * Form::kSuperBytes;
}

}  // namespace llama_worker::kernels::cuda::fragment_forms
