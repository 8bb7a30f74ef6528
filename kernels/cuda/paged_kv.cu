// Paged KV store and attention (see paged_kv.cuh for the layout and the invariance contract).
//
// Attention: one block of kWarps warps per (row, query head). A warp works on kKeysPerWarp keys
// at a time, kLanesPerKey lanes per key, each lane owning 8 dimensions of the head (one 16-byte
// load of K and one of V per key). Key j of the row's range [first, position] goes to warp
// ((j - first) / kKeysPerStep) % kWarps, unroll slot and lane group by the remainder: the
// assignment depends on the key's offset in the row's own range only. Each lane group keeps an
// online softmax (max, sum, acc[8]) over its keys in ascending order; lane groups are merged by
// a butterfly over the warp, warps in warp order through shared memory. No split of the keys
// across blocks, so nothing depends on the batch.
#include "cuda/paged_kv.cuh"

#include <cmath>
#include <cstdint>
#include <string>

#include "cuda/cuda_check.hpp"
#include "cuda/fragment_mma.cuh"
#include "cuda/launch.cuh"

namespace llama_worker::kernels::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kUnroll = 2;  // keys per lane group per step, loaded together

template <int kHeadDim>
struct HeadTraits {
  static constexpr int kChunks = kHeadDim / 8;                 // 16-byte chunks of a head row
  static constexpr int kLanesPerKey = kChunks <= 8 ? 8 : 16;   // a power of two >= kChunks
  static constexpr int kKeysPerWarp = 32 / kLanesPerKey;       // lane groups of a warp
  static constexpr int kKeysPerStep = kKeysPerWarp * kUnroll;  // keys a warp takes per step
  static_assert(kHeadDim % 8 == 0 && kChunks <= 16, "head_dim: multiple of 8, at most 128");
};

struct SoftmaxState {
  float max_score;
  float sum;
  float acc[8];
};

__device__ __forceinline__ float weight_of(float max_score, float merged_max) {
  return max_score == -INFINITY ? 0.0f : expf(max_score - merged_max);
}

// Same bits on both lanes of a butterfly pair: a * x + b * y without contraction is symmetric.
__device__ __forceinline__ float weighted_pair(float a, float x, float b, float y) {
  return __fadd_rn(__fmul_rn(a, x), __fmul_rn(b, y));
}

__device__ __forceinline__ void merge_with_lane(SoftmaxState& s, int offset) {
  const float other_max = __shfl_xor_sync(0xffffffffu, s.max_score, offset);
  const float other_sum = __shfl_xor_sync(0xffffffffu, s.sum, offset);
  const float merged_max = fmaxf(s.max_score, other_max);
  const float mine = weight_of(s.max_score, merged_max);
  const float theirs = weight_of(other_max, merged_max);
  s.sum = weighted_pair(mine, s.sum, theirs, other_sum);
#pragma unroll
  for (int d = 0; d < 8; ++d) {
    const float other = __shfl_xor_sync(0xffffffffu, s.acc[d], offset);
    s.acc[d] = weighted_pair(mine, s.acc[d], theirs, other);
  }
  s.max_score = merged_max;
}

template <int kHeadDim>
__global__ void __launch_bounds__(kThreads) paged_attention_kernel(PagedAttentionParams p, float scale) {
  using Traits = HeadTraits<kHeadDim>;
  constexpr int kLanes = Traits::kLanesPerKey;
  constexpr int kStep = Traits::kKeysPerStep;
  __shared__ float shared_max[kWarps];
  __shared__ float shared_sum[kWarps];
  __shared__ float shared_acc[kWarps][kHeadDim];

  pdl_launch_dependents();
  pdl_wait();
  const int64_t row = blockIdx.x;
  const int64_t head = blockIdx.y;
  const int64_t kv_head = head / (p.heads / p.kv.kv_heads);
  const int64_t position = p.kv.row_positions[row];
  if (position < 0) return;  // the caller guarantees positions >= 0; never read out of bounds
  const int64_t first =
      p.sliding_window > 0 && position - p.sliding_window + 1 > 0 ? position - p.sliding_window + 1 : 0;
  const int32_t* table = p.kv.block_tables + p.kv.row_table[row];
  const int64_t kv_width = p.kv.kv_heads * kHeadDim;
  const int32_t block_positions = static_cast<int32_t>(p.kv.block_positions);

  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int chunk = lane % kLanes;
  const int group = lane / kLanes;
  const bool active = chunk < Traits::kChunks;  // head_dim 96: 12 of 16 lanes carry dimensions
  const int64_t head_offset = kv_head * kHeadDim + chunk * 8;

  float q[8] = {};
  if (active) {
    const float* q_row = p.q + row * p.q_stride + head * kHeadDim + chunk * 8;
#pragma unroll
    for (int d = 0; d < 8; ++d) q[d] = q_row[d];
  }

  SoftmaxState state{-INFINITY, 0.0f, {}};
  for (int64_t base = first + static_cast<int64_t>(warp) * kStep; base <= position;
       base += static_cast<int64_t>(kWarps) * kStep) {
    uint4 k_chunk[kUnroll], v_chunk[kUnroll];
    bool present[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t key = base + u * Traits::kKeysPerWarp + group;
      present[u] = key <= position;
      k_chunk[u] = make_uint4(0, 0, 0, 0);
      v_chunk[u] = make_uint4(0, 0, 0, 0);
      if (present[u] && active) {
        // Positions are int32 (row_positions): 32-bit division, far cheaper than 64-bit.
        const int32_t key32 = static_cast<int32_t>(key);
        const int64_t block = table[key32 / block_positions];
        const int64_t at = block * p.kv.block_stride + (key32 % block_positions) * kv_width + head_offset;
        k_chunk[u] = *reinterpret_cast<const uint4*>(p.kv.k + at);
        v_chunk[u] = *reinterpret_cast<const uint4*>(p.kv.v + at);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const __half2* k_half = reinterpret_cast<const __half2*>(&k_chunk[u]);
      float dot = 0.0f;
#pragma unroll
      for (int h = 0; h < 4; ++h) {
        const float2 f = __half22float2(k_half[h]);
        dot = fmaf(q[2 * h], f.x, dot);
        dot = fmaf(q[2 * h + 1], f.y, dot);
      }
#pragma unroll
      for (int offset = kLanes / 2; offset > 0; offset >>= 1)
        dot += __shfl_xor_sync(0xffffffffu, dot, offset);
      if (!present[u]) continue;
      const float score = dot * scale;
      const float merged_max = fmaxf(state.max_score, score);
      const float rescale = weight_of(state.max_score, merged_max);
      const float weight = expf(score - merged_max);
      state.sum = fmaf(state.sum, rescale, weight);
      const __half2* v_half = reinterpret_cast<const __half2*>(&v_chunk[u]);
#pragma unroll
      for (int h = 0; h < 4; ++h) {
        const float2 f = __half22float2(v_half[h]);
        state.acc[2 * h] = fmaf(weight, f.x, state.acc[2 * h] * rescale);
        state.acc[2 * h + 1] = fmaf(weight, f.y, state.acc[2 * h + 1] * rescale);
      }
      state.max_score = merged_max;
    }
  }
#pragma unroll
  for (int offset = kLanes; offset < 32; offset <<= 1) merge_with_lane(state, offset);

  if (lane == 0) {
    shared_max[warp] = state.max_score;
    shared_sum[warp] = state.sum;
  }
  if (lane < kLanes && active) {
#pragma unroll
    for (int d = 0; d < 8; ++d) shared_acc[warp][chunk * 8 + d] = state.acc[d];
  }
  __syncthreads();
  for (int d = threadIdx.x; d < kHeadDim; d += blockDim.x) {
    float merged_max = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) merged_max = fmaxf(merged_max, shared_max[w]);
    float sum = 0.0f;
    float numerator = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float weight = weight_of(shared_max[w], merged_max);
      sum = fmaf(weight, shared_sum[w], sum);
      numerator = fmaf(weight, shared_acc[w][d], numerator);
    }
    const float value = numerator / sum;
    if (p.out_packed != nullptr) {
      p.out_packed[fragment_activation_index(row, head * kHeadDim + d, p.rows)] = __float2half_rn(value);
    } else {
      p.out[row * p.out_stride + head * kHeadDim + d] = value;
    }
  }
}

__global__ void paged_kv_store_kernel(PagedKvLayout kv, const float* k, int64_t k_stride, const float* v,
                                      int64_t v_stride) {
  pdl_launch_dependents();
  pdl_wait();
  const int64_t row = blockIdx.x;
  const int64_t position = kv.row_positions[row];
  if (position < 0) return;  // the caller guarantees positions >= 0; never write out of bounds
  const int64_t block = kv.block_tables[kv.row_table[row] + position / kv.block_positions];
  const int64_t width = kv.kv_heads * kv.head_dim;
  const int64_t at = block * kv.block_stride + (position % kv.block_positions) * width;
  // Block y of the row stores elements [y * blockDim, (y + 1) * blockDim): one element per thread,
  // so a wide row (Phi-3: 3,072) is spread over blocks instead of looping in one.
  const int64_t i = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
  if (i >= width) return;
  kv.k[at + i] = __float2half_rn(k[row * k_stride + i]);
  kv.v[at + i] = __float2half_rn(v[row * v_stride + i]);
}

Status check_layout(const PagedKvLayout& kv, const char* op) {
  if (kv.k == nullptr || kv.v == nullptr || kv.block_tables == nullptr || kv.row_table == nullptr ||
      kv.row_positions == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(op) + ": null pool, table or position pointer");
  }
  if (kv.kv_heads <= 0 || kv.head_dim <= 0 || kv.block_positions <= 0 || kv.block_stride <= 0) {
    return make_error(
        ErrorCode::kInvalidArgument,
        std::string(op) + ": kv_heads, head_dim, block_positions and block_stride must be positive");
  }
  if (kv.block_positions > INT32_MAX) {
    return make_error(ErrorCode::kInvalidArgument, std::string(op) + ": block_positions above INT32_MAX");
  }
  if (kv.block_stride < kv.block_positions * kv.kv_heads * kv.head_dim) {
    return make_error(ErrorCode::kInvalidArgument, std::string(op) + ": block_stride smaller than a slab");
  }
  return Status::ok();
}

template <int kHeadDim>
Status launch_attention(const PagedAttentionParams& p, float scale, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(p.rows), static_cast<unsigned>(p.heads));
  LW_CUDA_TRY(launch(paged_attention_kernel<kHeadDim>, grid, dim3(kThreads), 0, stream, p, scale));
  return Status::ok();
}

}  // namespace

Status paged_kv_store(const PagedKvLayout& kv, const float* k, int64_t k_stride, const float* v,
                      int64_t v_stride, int64_t rows, cudaStream_t stream) {
  if (rows < 0) return make_error(ErrorCode::kInvalidArgument, "paged_kv_store: negative rows");
  if (rows == 0) return Status::ok();
  LW_TRY(check_layout(kv, "paged_kv_store"));
  const int64_t width = kv.kv_heads * kv.head_dim;
  if (k_stride == 0) k_stride = width;
  if (v_stride == 0) v_stride = width;
  if (k == nullptr || v == nullptr || k_stride < width || v_stride < width) {
    return make_error(ErrorCode::kInvalidArgument, "paged_kv_store: null K/V or row stride below kv_width");
  }
  if (rows > INT32_MAX) return make_error(ErrorCode::kInvalidArgument, "paged_kv_store: too many rows");
  constexpr int kStoreThreads = 256;
  const auto slices = static_cast<unsigned>((width + kStoreThreads - 1) / kStoreThreads);
  if (slices > 65535) return make_error(ErrorCode::kInvalidArgument, "paged_kv_store: kv_width too large");
  LW_CUDA_TRY(launch(paged_kv_store_kernel, dim3(static_cast<unsigned>(rows), slices), dim3(kStoreThreads), 0,
                     stream, kv, k, k_stride, v, v_stride));
  return Status::ok();
}

Status paged_attention(const PagedAttentionParams& params, cudaStream_t stream) {
  PagedAttentionParams p = params;
  if (p.rows < 0) return make_error(ErrorCode::kInvalidArgument, "paged_attention: negative rows");
  if (p.rows == 0) return Status::ok();
  LW_TRY(check_layout(p.kv, "paged_attention"));
  if ((p.out == nullptr && p.out_packed == nullptr) || p.q == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "paged_attention: null q or out");
  }
  if (p.heads <= 0 || p.heads % p.kv.kv_heads != 0 || p.sliding_window < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "paged_attention: heads must be a positive multiple of kv_heads, sliding_window >= 0");
  }
  if (!paged_attention_supports_head_dim(p.kv.head_dim)) {
    return make_error(ErrorCode::kUnsupported, "paged_attention: unsupported head dimension " +
                                                   std::to_string(p.kv.head_dim) + " (64, 96, 128)");
  }
  const int64_t width = p.heads * p.kv.head_dim;
  if (p.q_stride == 0) p.q_stride = width;
  if (p.out_stride == 0) p.out_stride = width;
  if (p.q_stride < width || p.out_stride < width) {
    return make_error(ErrorCode::kInvalidArgument,
                      "paged_attention: q_stride or out_stride below heads * head_dim");
  }
  // 16-byte loads of K and V rows: every row of the pool must start on a 16-byte boundary.
  if (reinterpret_cast<uintptr_t>(p.kv.k) % 16 != 0 || reinterpret_cast<uintptr_t>(p.kv.v) % 16 != 0 ||
      p.kv.block_stride % 8 != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "paged_attention: K/V pool not 16-byte aligned or block_stride not a multiple of 8");
  }
  if (p.rows > INT32_MAX || p.heads > 65535) {
    return make_error(ErrorCode::kInvalidArgument, "paged_attention: too many rows or heads for the grid");
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(p.kv.head_dim));
  switch (p.kv.head_dim) {
    case 64:
      return launch_attention<64>(p, scale, stream);
    case 96:
      return launch_attention<96>(p, scale, stream);
    case 128:
      return launch_attention<128>(p, scale, stream);
    default:
      return make_error(ErrorCode::kInternal, "paged_attention: head dimension dispatch out of step");
  }
}

}  // namespace llama_worker::kernels::cuda
