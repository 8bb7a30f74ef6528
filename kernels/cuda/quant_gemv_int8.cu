#include <cstdlib>
#include <cstring>

#include "cuda/block_reduce.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/launch.cuh"
#include "cuda/quant_blocks.cuh"
#include "cuda/quant_gemv_int8.cuh"
#include "cuda/quant_gemv_units.cuh"

namespace llama_worker::kernels::cuda {
namespace {

// 16 warps of 2 rows: 32 rows per block share one quantized copy of x (a 4,096-wide x is read
// from L2 once per 32 rows; 128 blocks for a 4,096-row matrix, one wave on an H100). The 1-row
// form (16 rows per block, twice the blocks) is an experiment: rows_per_warp() below.
constexpr int kWarps = 16;
constexpr int kRun = 32;                   // activations per scale
constexpr int64_t kMaxInFeatures = 32768;  // shared copy: in + in / 8 bytes = 36 KiB
constexpr int kOnes = 0x01010101;          // dp4a with it sums four int8 values

__host__ __device__ constexpr int64_t shared_bytes(int64_t in_features) {
  return in_features + in_features / kRun * static_cast<int64_t>(sizeof(float));
}

// x (optionally RMS-normalised: x * inverse_rms * norm_weight, rmsnorm_f32's order) into int8 runs
// of 32 with one fp32 scale each: d = max|v| / 127, q = round-half-even(v * (127 / max|v|))
// (kernels/cpu/quantize_activations.cpp computes the same bits). Four threads per run, 8 values
// each, the run's maximum over the four by two butterflies (in_features / 8 is a multiple of 32, so
// whole warps take part or none). Every thread of the block calls it; it ends with a barrier.
__device__ void quantize_to_shared(const float* x, int64_t in_features, const float* norm_weight,
                                   float inverse_rms, int8_t* xq, float* xd) {
  constexpr int kPerThread = 8;
  const int64_t eighths = in_features / kPerThread;
  for (int64_t i = threadIdx.x; i < eighths; i += blockDim.x) {
    const float4* source = reinterpret_cast<const float4*>(x + i * kPerThread);
    const float4 a = source[0];
    const float4 b = source[1];
    float v[kPerThread] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
    if (norm_weight != nullptr) {
      const float4* weight = reinterpret_cast<const float4*>(norm_weight + i * kPerThread);
      const float4 wa = weight[0];
      const float4 wb = weight[1];
      const float w[kPerThread] = {wa.x, wa.y, wa.z, wa.w, wb.x, wb.y, wb.z, wb.w};
#pragma unroll
      for (int k = 0; k < kPerThread; ++k) v[k] = v[k] * inverse_rms * w[k];
    }
    float amax = 0.0f;
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) amax = fmaxf(amax, fabsf(v[k]));
    amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
    amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
    const float inverse = amax == 0.0f ? 0.0f : __fdiv_rn(127.0f, amax);
    uint32_t words[2] = {0, 0};
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      const int q = __float2int_rn(__fmul_rn(v[k], inverse));
      words[k / 4] |= (static_cast<uint32_t>(q) & 0xFFu) << (8 * (k % 4));
    }
    *reinterpret_cast<uint2*>(xq + i * kPerThread) = make_uint2(words[0], words[1]);
    if (i % (kRun / kPerThread) == 0) xd[i / (kRun / kPerThread)] = __fdiv_rn(amax, 127.0f);
  }
  __syncthreads();
}

// Q4_K (quant_gemv_units.cuh's unit map): unit u of a block is 64-group j = u / 2, half h = u % 2;
// its 16 bytes qs[32 j + 16 h ..] hold elements 64 j + 16 h + i (low nibbles, sub-block 2 j) and
// 64 j + 32 + 16 h + i (high nibbles, sub-block 2 j + 1): one 16-byte run of x each, whose scales
// are runs 8 b + 2 j and 8 b + 2 j + 1.
struct Q4KInt8 {
  static constexpr int kBlockBytes = 144;
  struct Slice {
    int4 lo, hi;
    float d_lo, d_hi;
    int sum_lo, sum_hi;
  };
  __device__ static Slice gather(const int8_t* xq, const float* xd, int block, int unit) {
    const int j = unit / 2;
    const int base = 256 * block + 64 * j + 16 * (unit % 2);
    Slice s;
    s.lo = *reinterpret_cast<const int4*>(xq + base);
    s.hi = *reinterpret_cast<const int4*>(xq + base + 32);
    s.d_lo = xd[8 * block + 2 * j];
    s.d_hi = xd[8 * block + 2 * j + 1];
    s.sum_lo = __dp4a(kOnes, s.lo.x, __dp4a(kOnes, s.lo.y, __dp4a(kOnes, s.lo.z, __dp4a(kOnes, s.lo.w, 0))));
    s.sum_hi = __dp4a(kOnes, s.hi.x, __dp4a(kOnes, s.hi.y, __dp4a(kOnes, s.hi.z, __dp4a(kOnes, s.hi.w, 0))));
    return s;
  }
  __device__ static float dot(const uint8_t* block, int unit, const Slice& s) {
    const int j = unit / 2;
    const uint4 q = *reinterpret_cast<const uint4*>(block + 16 + 32 * j + 16 * (unit % 2));
    const uint32_t dm = *reinterpret_cast<const uint32_t*>(block);
    const float d = gemv::half_bits_to_float(static_cast<uint16_t>(dm & 0xFFFFu));
    const float dmin = gemv::half_bits_to_float(static_cast<uint16_t>(dm >> 16));
    int sc_lo = 0, m_lo = 0, sc_hi = 0, m_hi = 0;
    k4_scale_min(2 * j, block + 4, sc_lo, m_lo);
    k4_scale_min(2 * j + 1, block + 4, sc_hi, m_hi);
    constexpr uint32_t kLow = 0x0F0F0F0Fu;
    int dot_lo = __dp4a(static_cast<int>(q.x & kLow), s.lo.x, 0);
    dot_lo = __dp4a(static_cast<int>(q.y & kLow), s.lo.y, dot_lo);
    dot_lo = __dp4a(static_cast<int>(q.z & kLow), s.lo.z, dot_lo);
    dot_lo = __dp4a(static_cast<int>(q.w & kLow), s.lo.w, dot_lo);
    int dot_hi = __dp4a(static_cast<int>((q.x >> 4) & kLow), s.hi.x, 0);
    dot_hi = __dp4a(static_cast<int>((q.y >> 4) & kLow), s.hi.y, dot_hi);
    dot_hi = __dp4a(static_cast<int>((q.z >> 4) & kLow), s.hi.z, dot_hi);
    dot_hi = __dp4a(static_cast<int>((q.w >> 4) & kLow), s.hi.w, dot_hi);
    return s.d_lo * (d * static_cast<float>(sc_lo * dot_lo) - dmin * static_cast<float>(m_lo * s.sum_lo)) +
           s.d_hi * (d * static_cast<float>(sc_hi * dot_hi) - dmin * static_cast<float>(m_hi * s.sum_hi));
  }
};

// Q6_K (quant_gemv_units.cuh's unit map): unit u is half n = u / 4, l0 = 8 (u % 4); quarter g holds
// elements 128 n + 32 g + l0 + i (8 of them, one 8-byte run of x, scale run 8 b + 4 n + g). The
// stored 6-bit values carry +32: sum (q - 32) x = dp4a(q, x) - 32 sum x.
struct Q6KInt8 {
  static constexpr int kBlockBytes = 210;
  struct Slice {
    int2 x[4];
    float d[4];
    int sum[4];
  };
  __device__ static Slice gather(const int8_t* xq, const float* xd, int block, int unit) {
    const int n = unit / 4;
    const int l0 = 8 * (unit % 4);
    Slice s;
#pragma unroll
    for (int g = 0; g < 4; ++g) {
      s.x[g] = *reinterpret_cast<const int2*>(xq + 256 * block + 128 * n + 32 * g + l0);
      s.d[g] = xd[8 * block + 4 * n + g];
      s.sum[g] = __dp4a(kOnes, s.x[g].x, __dp4a(kOnes, s.x[g].y, 0));
    }
    return s;
  }
  __device__ static float dot(const uint8_t* block, int unit, const Slice& s) {
    const int n = unit / 4;
    const int l0 = 8 * (unit % 4);
    const uint2 ql_a = gemv::load_8_bytes_a2(block + 64 * n + l0);       // g = 0 (low), g = 2 (high)
    const uint2 ql_b = gemv::load_8_bytes_a2(block + 64 * n + 32 + l0);  // g = 1 (low), g = 3 (high)
    const uint2 qh = gemv::load_8_bytes_a2(block + 128 + 32 * n + l0);
    const int8_t* scales = reinterpret_cast<const int8_t*>(block + 192 + 8 * n + l0 / 16);
    const float d = gemv::half_bits_to_float(gemv::load_u16(block + 208));
    const uint32_t a[2] = {ql_a.x, ql_a.y};
    const uint32_t b[2] = {ql_b.x, ql_b.y};
    const uint32_t h[2] = {qh.x, qh.y};
    int dots[4] = {0, 0, 0, 0};
#pragma unroll
    for (int w = 0; w < 2; ++w) {
      const int xw[4] = {w == 0 ? s.x[0].x : s.x[0].y, w == 0 ? s.x[1].x : s.x[1].y,
                         w == 0 ? s.x[2].x : s.x[2].y, w == 0 ? s.x[3].x : s.x[3].y};
      const uint32_t q0 = (a[w] & 0x0F0F0F0Fu) | ((h[w] & 0x03030303u) << 4);
      const uint32_t q1 = (b[w] & 0x0F0F0F0Fu) | (((h[w] >> 2) & 0x03030303u) << 4);
      const uint32_t q2 = ((a[w] >> 4) & 0x0F0F0F0Fu) | (((h[w] >> 4) & 0x03030303u) << 4);
      const uint32_t q3 = ((b[w] >> 4) & 0x0F0F0F0Fu) | (((h[w] >> 6) & 0x03030303u) << 4);
      dots[0] = __dp4a(static_cast<int>(q0), xw[0], dots[0]);
      dots[1] = __dp4a(static_cast<int>(q1), xw[1], dots[1]);
      dots[2] = __dp4a(static_cast<int>(q2), xw[2], dots[2]);
      dots[3] = __dp4a(static_cast<int>(q3), xw[3], dots[3]);
    }
    float sum = 0.0f;
#pragma unroll
    for (int g = 0; g < 4; ++g)
      sum += s.d[g] * static_cast<float>(static_cast<int>(scales[2 * g]) * (dots[g] - 32 * s.sum[g]));
    return d * sum;
  }
};

// One warp: rows first_row, first_row + 1 of `rows` (SwiGLU: of both matrices), x from the
// block's quantized copy. Lanes take the units of the row in turn; a fixed butterfly sums them.
template <typename Unit, bool kSwiglu, int kRowsPerWarp>
__device__ __forceinline__ void int8_rows(const uint8_t* weight, const uint8_t* up_weight, int64_t row_bytes,
                                          int64_t rows, int64_t first_row, const int8_t* xq, const float* xd,
                                          int64_t in_features, float* y, const float* bias,
                                          const float* residual) {
  const int lane = threadIdx.x % 32;
  const uint8_t* row_data[kRowsPerWarp];
  const uint8_t* up_row_data[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t row = min(first_row + r, rows - 1);  // past the end: repeat the last row, drop it
    row_data[r] = weight + row * row_bytes;
    up_row_data[r] = kSwiglu ? up_weight + row * row_bytes : nullptr;
  }
  const int units = static_cast<int>(in_features / 256) * 8;
  float sums[kRowsPerWarp] = {};
  float up_sums[kRowsPerWarp] = {};
#pragma unroll 2
  for (int u = lane; u < units; u += 32) {
    const int block = u / 8;
    const int unit = u % 8;
    const typename Unit::Slice slice = Unit::gather(xq, xd, block, unit);
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      sums[r] += Unit::dot(row_data[r] + static_cast<int64_t>(block) * Unit::kBlockBytes, unit, slice);
      if constexpr (kSwiglu)
        up_sums[r] +=
            Unit::dot(up_row_data[r] + static_cast<int64_t>(block) * Unit::kBlockBytes, unit, slice);
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    sums[r] = warp_reduce_sum(sums[r]);
    if constexpr (kSwiglu) up_sums[r] = warp_reduce_sum(up_sums[r]);
  }
  if (lane != 0) return;
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t row = first_row + r;
    if (row >= rows) break;
    float value = sums[r];
    if constexpr (kSwiglu) {
      value = value / (1.0f + expf(-value)) * up_sums[r];
    } else {
      if (bias != nullptr) value += bias[row];
      if (residual != nullptr) value += residual[row];
    }
    y[row] = value;
  }
}

// Shared memory: the int8 copy of x (in_features bytes, 16-byte aligned), then its scales.
__device__ __forceinline__ void shared_x(int64_t in_features, int8_t*& xq, float*& xd) {
  extern __shared__ __align__(16) uint8_t shared[];
  xq = reinterpret_cast<int8_t*>(shared);
  xd = reinterpret_cast<float*>(shared + in_features);
}

template <typename Unit, bool kSwiglu, int kRowsPerWarp>
__global__ void __launch_bounds__(32 * kWarps) quant_gemv_int8_kernel(QuantGemvParams p) {
  pdl_launch_dependents();
  const int lane = threadIdx.x % 32;
  const int64_t first_row = (static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32) * kRowsPerWarp;
  prefetch_rows(p.weight, p.weight_row_bytes, first_row, p.out_features, kRowsPerWarp, lane);
  if constexpr (kSwiglu)
    prefetch_rows(p.up_weight, p.weight_row_bytes, first_row, p.out_features, kRowsPerWarp, lane);
  pdl_wait();
  const float inverse_rms =
      p.norm_weight != nullptr ? block_inverse_rms(p.x, p.in_features, p.norm_eps) : 1.0f;
  int8_t* xq = nullptr;
  float* xd = nullptr;
  shared_x(p.in_features, xq, xd);
  quantize_to_shared(p.x, p.in_features, p.norm_weight, inverse_rms, xq, xd);
  if (first_row < p.out_features) {
    int8_rows<Unit, kSwiglu, kRowsPerWarp>(p.weight, p.up_weight, p.weight_row_bytes, p.out_features,
                                           first_row, xq, xd, p.in_features, p.y, p.bias, p.residual);
  }
}

// Blocks [block_end[s - 1], block_end[s]) compute segment s (Q4_K or Q6_K, chosen per block).
template <int kRowsPerWarp>
__global__ void __launch_bounds__(32 * kWarps) quant_gemv_multi_int8_kernel(QuantGemvMultiParams p) {
  pdl_launch_dependents();
  int s = 0;
  while (s + 1 < p.count && static_cast<int64_t>(blockIdx.x) >= p.block_end[s]) ++s;
  const QuantGemvSegment& segment = p.segments[s];
  const int64_t block = static_cast<int64_t>(blockIdx.x) - (s == 0 ? 0 : p.block_end[s - 1]);
  const int lane = threadIdx.x % 32;
  const int64_t first_row = (block * kWarps + threadIdx.x / 32) * kRowsPerWarp;
  prefetch_rows(segment.weight, segment.weight_row_bytes, first_row, segment.out_features, kRowsPerWarp,
                lane);
  pdl_wait();
  const float inverse_rms =
      p.norm_weight != nullptr ? block_inverse_rms(p.x, p.in_features, p.norm_eps) : 1.0f;
  int8_t* xq = nullptr;
  float* xd = nullptr;
  shared_x(p.in_features, xq, xd);
  quantize_to_shared(p.x, p.in_features, p.norm_weight, inverse_rms, xq, xd);
  if (first_row >= segment.out_features) return;
  if (segment.weight_type == gguf::TensorType::kQ4_K) {
    int8_rows<Q4KInt8, false, kRowsPerWarp>(segment.weight, nullptr, segment.weight_row_bytes,
                                            segment.out_features, first_row, xq, xd, p.in_features, segment.y,
                                            segment.bias, nullptr);
  } else {
    int8_rows<Q6KInt8, false, kRowsPerWarp>(segment.weight, nullptr, segment.weight_row_bytes,
                                            segment.out_features, first_row, xq, xd, p.in_features, segment.y,
                                            segment.bias, nullptr);
  }
}

unsigned blocks_for(int64_t rows, int rows_per_warp) {
  const int64_t per_block = int64_t{kWarps} * rows_per_warp;
  return static_cast<unsigned>((rows + per_block - 1) / per_block);
}

// Rows per warp for a call with `rows` output rows in all: 2, or from LLAMA_WORKER_INT8_ROWS
// (an A/B setting of the kernel bench and the decode step, read once): `1`, `2`, or `small` (1 for
// calls of at most kSmallCallRows rows, whose 2-row grid leaves most SMs one block).
constexpr int64_t kSmallCallRows = 8192;

int rows_per_warp(int64_t rows) {
  static const int setting = [] {
    const char* value = std::getenv("LLAMA_WORKER_INT8_ROWS");
    if (value == nullptr) return 2;
    if (std::strcmp(value, "1") == 0) return 1;
    if (std::strcmp(value, "small") == 0) return 0;
    return 2;
  }();
  if (setting == 0) return rows <= kSmallCallRows ? 1 : 2;
  return setting;
}

}  // namespace

bool quant_gemv_int8_supports(gguf::TensorType type, int64_t in_features) {
  return (type == gguf::TensorType::kQ4_K || type == gguf::TensorType::kQ6_K) && in_features > 0 &&
         in_features % 256 == 0 && in_features <= kMaxInFeatures;
}

bool quant_gemv_int8_supports(const QuantGemvParams& p) {
  return quant_gemv_int8_supports(p.weight_type, p.in_features) && p.norm_out == nullptr;
}

bool quant_gemv_int8_supports(const QuantGemvMultiParams& p) {
  if (p.count < 1 || p.count > kMaxGemvSegments) return false;
  for (int s = 0; s < p.count; ++s) {
    if (!quant_gemv_int8_supports(p.segments[s].weight_type, p.in_features)) return false;
  }
  return true;
}

namespace {

template <int kRowsPerWarp>
Status launch_single(const QuantGemvParams& p, cudaStream_t stream) {
  const auto shared = static_cast<size_t>(shared_bytes(p.in_features));
  const unsigned blocks = blocks_for(p.out_features, kRowsPerWarp);
  const bool swiglu = p.up_weight != nullptr;
  if (p.weight_type == gguf::TensorType::kQ4_K) {
    LW_CUDA_TRY(swiglu ? launch(quant_gemv_int8_kernel<Q4KInt8, true, kRowsPerWarp>, blocks, 32 * kWarps,
                                shared, stream, p)
                       : launch(quant_gemv_int8_kernel<Q4KInt8, false, kRowsPerWarp>, blocks, 32 * kWarps,
                                shared, stream, p));
  } else {
    LW_CUDA_TRY(swiglu ? launch(quant_gemv_int8_kernel<Q6KInt8, true, kRowsPerWarp>, blocks, 32 * kWarps,
                                shared, stream, p)
                       : launch(quant_gemv_int8_kernel<Q6KInt8, false, kRowsPerWarp>, blocks, 32 * kWarps,
                                shared, stream, p));
  }
  return Status::ok();
}

template <int kRowsPerWarp>
Status launch_multi(const QuantGemvMultiParams& params, cudaStream_t stream) {
  QuantGemvMultiParams p = params;
  int64_t blocks = 0;
  for (int s = 0; s < p.count; ++s) {
    blocks += blocks_for(p.segments[s].out_features, kRowsPerWarp);
    p.block_end[s] = blocks;
  }
  LW_CUDA_TRY(launch(quant_gemv_multi_int8_kernel<kRowsPerWarp>, static_cast<unsigned>(blocks), 32 * kWarps,
                     static_cast<size_t>(shared_bytes(p.in_features)), stream, p));
  return Status::ok();
}

}  // namespace

Status quant_gemv_int8(const QuantGemvParams& p, cudaStream_t stream) {
  return rows_per_warp(p.out_features) == 1 ? launch_single<1>(p, stream) : launch_single<2>(p, stream);
}

Status quant_gemv_multi_int8(const QuantGemvMultiParams& p, cudaStream_t stream) {
  int64_t rows = 0;
  for (int s = 0; s < p.count; ++s) rows += p.segments[s].out_features;
  return rows_per_warp(rows) == 1 ? launch_multi<1>(p, stream) : launch_multi<2>(p, stream);
}

}  // namespace llama_worker::kernels::cuda
