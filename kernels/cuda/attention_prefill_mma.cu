// Prefill attention on tensor cores (FlashAttention-2 style). One block of 4 warps per (tile of 64
// queries, head); each warp owns 16 queries. Key and value tiles of 64 rows are copied from the
// fp16 cache into shared memory with cp.async, double-buffered (the next tile's copy overlaps this
// tile's arithmetic). S = Q K^T and O += P V are mma.sync m16n8k16 products (fp16 operands, fp32
// accumulation); K fragments come from ldmatrix, V fragments from ldmatrix.trans; the S
// accumulator layout is reused as the A operand of P V without a trip through shared memory.
// Online softmax per query row in fp32 (exp2 with log2(e) folded into the query scale).
//
// Numerics: Q * scale * log2(e) and P are rounded to fp16 (the cache already holds fp16 K and V);
// everything else is fp32. The twin is kernels/cpu attention_f32 within an NMSE budget (op
// conformance), as for the tensor-core products.
//
// Invariance: key tiles start at absolute multiples of 64 (not at the block's first key), every
// row's sums run over its own tiles in key order, and a tile a row cannot see leaves its state
// unchanged. So a query's output bits do not depend on which other queries share its block or its
// launch: a prompt prefilled in one chunk or in several gives the same attention output (tested).
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "cuda/attention_kernels.cuh"
#include "cuda/cuda_check.hpp"

namespace llama_worker::kernels::cuda {
namespace {

constexpr int kMmaWarps = 4;
constexpr int kMmaQueriesPerWarp = 16;
constexpr int kMmaQueriesPerBlock = kMmaWarps * kMmaQueriesPerWarp;
constexpr int kMmaKeysPerTile = 64;
constexpr float kLog2e = 1.4426950408889634f;

// Halves per shared row: 8 more than the head dimension keeps rows 16-byte aligned (cp.async,
// ldmatrix) and puts the 8 rows an ldmatrix reads in 8 different bank groups.
template <int kHeadDim>
constexpr int shared_row_halves() {
  return kHeadDim + 8;
}

template <int kHeadDim>
constexpr size_t mma_shared_bytes() {
  return sizeof(__half) * 2 /*buffers*/ * 2 /*K, V*/ * kMmaKeysPerTile * shared_row_halves<kHeadDim>();
}

__device__ __forceinline__ uint32_t pack_half2(float low, float high) {
  const __half2 h = __floats2half2_rn(low, high);
  return *reinterpret_cast<const uint32_t*>(&h);
}

__device__ __forceinline__ uint32_t shared_address(const void* pointer) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(pointer));
}

// d += a * b, m16n8k16, fp16 operands, fp32 accumulators (PTX fragment layouts).
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const __half* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const __half* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row)));
}

// 16 bytes global -> shared; a row past the visible keys is filled with zeros (src size 0), so
// a NaN in an unwritten cache row never meets a zero weight.
__device__ __forceinline__ void copy_16_bytes(__half* destination, const __half* source, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(destination)),
               "l"(source), "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void copy_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ __forceinline__ void copy_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

template <int kHeadDim>
__device__ __forceinline__ void load_kv_tile(const AttentionParams& p, int64_t kv_head, int64_t key0,
                                             int64_t last_key, __half* k_tile, __half* v_tile) {
  constexpr int kChunksPerRow = kHeadDim / 8;
  constexpr int kRow = shared_row_halves<kHeadDim>();
  const int64_t row_width = p.kv_heads * kHeadDim;
  for (int chunk = threadIdx.x; chunk < kMmaKeysPerTile * kChunksPerRow; chunk += kMmaWarps * 32) {
    const int row = chunk / kChunksPerRow;
    const int column = (chunk % kChunksPerRow) * 8;
    const int64_t key = key0 + row;
    const bool valid = key <= last_key;
    const int64_t at = (valid ? key : 0) * row_width + kv_head * kHeadDim + column;
    copy_16_bytes(k_tile + row * kRow + column, p.k_cache + at, valid);
    copy_16_bytes(v_tile + row * kRow + column, p.v_cache + at, valid);
  }
  copy_commit();
}

template <int kHeadDim>
__global__ void __launch_bounds__(kMmaWarps * 32) attention_prefill_mma_kernel(AttentionParams p) {
  static_assert(kHeadDim % 16 == 0, "the head dimension is a whole number of k16 steps");
  constexpr int kSteps = kHeadDim / 16;           // k16 steps of Q K^T; also pairs of n8 tiles of P V
  constexpr int kKeyTiles = kMmaKeysPerTile / 8;  // n8 tiles of S
  constexpr int kRow = shared_row_halves<kHeadDim>();
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  __half* k_tiles = reinterpret_cast<__half*>(shared_bytes);
  __half* v_tiles = k_tiles + 2 * kMmaKeysPerTile * kRow;
  __shared__ int block_range[2][2];  // per half of the block's queries: first visible key, last visible key

  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int group = lane / 4;     // fragment row within the warp's 16 queries (and row + 8)
  const int in_group = lane % 4;  // fragment column pair
  const int64_t head = blockIdx.y;
  const int64_t kv_head = head / (p.heads / p.kv_heads);
  const int64_t q_begin =
      (static_cast<int64_t>(gridDim.x) - 1 - blockIdx.x) * kMmaQueriesPerBlock;  // longest first

  // Visible keys [first, last] of this thread's two rows; a row past the batch sees none.
  int64_t first[2], last[2], token[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    token[r] = q_begin + warp * kMmaQueriesPerWarp + group + 8 * r;
    last[r] = token[r] < p.q_tokens ? p.positions[token[r]] : -1;
    first[r] =
        p.sliding_window > 0 && last[r] - p.sliding_window + 1 > 0 ? last[r] - p.sliding_window + 1 : 0;
  }
  // The block's key range, from threads 0..63 each holding one query.
  if (threadIdx.x < kMmaQueriesPerBlock) {
    const int64_t t = q_begin + threadIdx.x;
    const int64_t position = t < p.q_tokens ? p.positions[t] : -1;
    const int64_t low = position < 0 ? INT32_MAX
                        : p.sliding_window > 0 && position - p.sliding_window + 1 > 0
                            ? position - p.sliding_window + 1
                            : 0;
    int lo = static_cast<int>(low), hi = static_cast<int>(position);
    for (int offset = 16; offset > 0; offset >>= 1) {
      lo = min(lo, __shfl_xor_sync(0xffffffffu, lo, offset));
      hi = max(hi, __shfl_xor_sync(0xffffffffu, hi, offset));
    }
    if (lane == 0) {
      block_range[warp][0] = lo;
      block_range[warp][1] = hi;
    }
  }
  // Q fragments (A operand, row-major 16 x 16 per k16 step), scaled and rounded to fp16 once.
  const float q_scale = p.scale * kLog2e;
  uint32_t q_fragment[kSteps][4];
#pragma unroll
  for (int step = 0; step < kSteps; ++step) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {  // columns step*16 + [0,8) then [8,16)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float2 value = make_float2(0.0f, 0.0f);
        if (token[r] < p.q_tokens) {
          value = *reinterpret_cast<const float2*>(p.q + token[r] * p.q_stride + head * kHeadDim + step * 16 +
                                                   half * 8 + in_group * 2);
        }
        q_fragment[step][half * 2 + r] = pack_half2(value.x * q_scale, value.y * q_scale);
      }
    }
  }
  __syncthreads();
  const int64_t block_first = min(block_range[0][0], block_range[1][0]);
  const int64_t block_last = max(block_range[0][1], block_range[1][1]);
  if (block_last < 0) return;  // no query in this block (cannot happen: the grid covers q_tokens exactly)
  const int64_t tile_begin = block_first / kMmaKeysPerTile * kMmaKeysPerTile;  // absolute tile boundaries
  const int tiles = static_cast<int>((block_last - tile_begin) / kMmaKeysPerTile + 1);
  int64_t warp_first = INT64_MAX, warp_last = -1;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (last[r] < 0) continue;
    warp_first = min(warp_first, first[r]);
    warp_last = max(warp_last, last[r]);
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    warp_first = min(warp_first, static_cast<int64_t>(__shfl_xor_sync(0xffffffffu, warp_first, offset)));
    warp_last = max(warp_last, static_cast<int64_t>(__shfl_xor_sync(0xffffffffu, warp_last, offset)));
  }

  float out[2 * kSteps][4];  // O: n8 tiles of the head dimension
#pragma unroll
  for (int n = 0; n < 2 * kSteps; ++n) out[n][0] = out[n][1] = out[n][2] = out[n][3] = 0.0f;
  float running_max[2] = {-INFINITY, -INFINITY};
  float running_sum[2] = {0.0f, 0.0f};  // this thread's share of the row sum; combined at the end

  load_kv_tile<kHeadDim>(p, kv_head, tile_begin, block_last, k_tiles, v_tiles);
  for (int tile = 0; tile < tiles; ++tile) {
    const int64_t key0 = tile_begin + static_cast<int64_t>(tile) * kMmaKeysPerTile;
    const __half* k_tile = k_tiles + (tile & 1) * kMmaKeysPerTile * kRow;
    const __half* v_tile = v_tiles + (tile & 1) * kMmaKeysPerTile * kRow;
    if (tile + 1 < tiles) {
      load_kv_tile<kHeadDim>(p, kv_head, key0 + kMmaKeysPerTile, block_last,
                             k_tiles + ((tile + 1) & 1) * kMmaKeysPerTile * kRow,
                             v_tiles + ((tile + 1) & 1) * kMmaKeysPerTile * kRow);
      copy_wait<1>();
    } else {
      copy_wait<0>();
    }
    __syncthreads();
    if (key0 <= warp_last && key0 + kMmaKeysPerTile - 1 >= warp_first) {
      // S = Q K^T for 16 queries x 64 keys.
      float score[kKeyTiles][4];
#pragma unroll
      for (int n = 0; n < kKeyTiles; ++n) score[n][0] = score[n][1] = score[n][2] = score[n][3] = 0.0f;
#pragma unroll
      for (int step = 0; step < kSteps; ++step) {
#pragma unroll
        for (int pair = 0; pair < kKeyTiles / 2; ++pair) {
          uint32_t b[4];  // keys pair*16 + [0,8): d [0,8), [8,16); keys + 8: the same
          const int key = pair * 16 + (lane / 16) * 8 + lane % 8;
          const int d = step * 16 + ((lane / 8) % 2) * 8;
          ldmatrix_x4(b, k_tile + key * kRow + d);
          mma_16816(score[2 * pair], q_fragment[step], b[0], b[1]);
          mma_16816(score[2 * pair + 1], q_fragment[step], b[2], b[3]);
        }
      }
      // Mask, then the online softmax update of each of the thread's two rows.
      float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int n = 0; n < kKeyTiles; ++n) {
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int r = c / 2;
          const int64_t key = key0 + n * 8 + in_group * 2 + (c & 1);
          if (key < first[r] || key > last[r]) score[n][c] = -INFINITY;
          tile_max[r] = fmaxf(tile_max[r], score[n][c]);
        }
      }
      float correction[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
        const float new_max = fmaxf(running_max[r], tile_max[r]);
        correction[r] = new_max == -INFINITY ? 1.0f : exp2f(running_max[r] - new_max);
        running_max[r] = new_max;
      }
      float tile_sum[2] = {0.0f, 0.0f};
#pragma unroll
      for (int n = 0; n < kKeyTiles; ++n) {
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int r = c / 2;
          score[n][c] = running_max[r] == -INFINITY ? 0.0f : exp2f(score[n][c] - running_max[r]);
          tile_sum[r] += score[n][c];
        }
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) running_sum[r] = running_sum[r] * correction[r] + tile_sum[r];
#pragma unroll
      for (int n = 0; n < 2 * kSteps; ++n) {
        out[n][0] *= correction[0];
        out[n][1] *= correction[0];
        out[n][2] *= correction[1];
        out[n][3] *= correction[1];
      }
      // O += P V: the S accumulators of key tiles 2j and 2j+1 are the A operand of key step j.
#pragma unroll
      for (int step = 0; step < kKeyTiles / 2; ++step) {
        const uint32_t weights[4] = {pack_half2(score[2 * step][0], score[2 * step][1]),
                                     pack_half2(score[2 * step][2], score[2 * step][3]),
                                     pack_half2(score[2 * step + 1][0], score[2 * step + 1][1]),
                                     pack_half2(score[2 * step + 1][2], score[2 * step + 1][3])};
#pragma unroll
        for (int pair = 0; pair < kSteps; ++pair) {
          uint32_t b[4];  // keys step*16 + [0,8), + [8,16): dims pair*16 + [0,8); then dims + 8
          const int key = step * 16 + ((lane / 8) % 2) * 8 + lane % 8;
          const int d = pair * 16 + (lane / 16) * 8;
          ldmatrix_x4_trans(b, v_tile + key * kRow + d);
          mma_16816(out[2 * pair], weights, b[0], b[1]);
          mma_16816(out[2 * pair + 1], weights, b[2], b[3]);
        }
      }
    }
    __syncthreads();  // this buffer is refilled two tiles on
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    running_sum[r] += __shfl_xor_sync(0xffffffffu, running_sum[r], 1);
    running_sum[r] += __shfl_xor_sync(0xffffffffu, running_sum[r], 2);
    if (token[r] >= p.q_tokens) continue;
    const float inverse = 1.0f / running_sum[r];
    float* row = p.out + (token[r] * p.heads + head) * kHeadDim + in_group * 2;
#pragma unroll
    for (int n = 0; n < 2 * kSteps; ++n) {
      *reinterpret_cast<float2*>(row + n * 8) =
          make_float2(out[n][2 * r] * inverse, out[n][2 * r + 1] * inverse);
    }
  }
}

template <int kHeadDim>
Status launch_prefill_mma(const AttentionParams& p, cudaStream_t stream) {
  constexpr size_t shared_bytes = mma_shared_bytes<kHeadDim>();
  if constexpr (shared_bytes > 48 * 1024) {
    LW_CUDA_TRY(cudaFuncSetAttribute(attention_prefill_mma_kernel<kHeadDim>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(shared_bytes)));
  }
  const dim3 grid(static_cast<unsigned>((p.q_tokens + kMmaQueriesPerBlock - 1) / kMmaQueriesPerBlock),
                  static_cast<unsigned>(p.heads));
  attention_prefill_mma_kernel<kHeadDim><<<grid, kMmaWarps * 32, shared_bytes, stream>>>(p);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

}  // namespace

bool attention_prefill_mma_supports(const AttentionParams& p) {
  const bool aligned = p.q_stride % 2 == 0 && reinterpret_cast<uintptr_t>(p.q) % 8 == 0 &&
                       reinterpret_cast<uintptr_t>(p.out) % 8 == 0 &&
                       reinterpret_cast<uintptr_t>(p.k_cache) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(p.v_cache) % 16 == 0;
  return aligned && (p.head_dim == 64 || p.head_dim == 96 || p.head_dim == 128);
}

Status attention_prefill_mma(const AttentionParams& p, cudaStream_t stream) {
  switch (p.head_dim) {
    case 64:
      return launch_prefill_mma<64>(p, stream);
    case 96:
      return launch_prefill_mma<96>(p, stream);
    case 128:
      return launch_prefill_mma<128>(p, stream);
    default:
      return make_error(ErrorCode::kUnsupported,
                        "attention: tensor-core prefill takes head dimensions 64, 96 and 128, not " +
                            std::to_string(p.head_dim));
  }
}

}  // namespace llama_worker::kernels::cuda
