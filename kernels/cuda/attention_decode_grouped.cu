// Decode attention (one query) for grouped-query heads: one block per (K/V head, slice of
// kAttentionKeysPerSplit keys) serves every query head of the group, so each key and value row is
// read from memory once per step instead of once per query head (Qwen2.5-0.5B: 7 query heads per
// K/V head; at depth 32,000 the per-head blocks moved 7x the cache through L2 and ran in seven
// waves). Same slices and same workspace as attention_decode.cu's per-head kernel; the last block
// of a K/V head to finish combines its query heads' slices, one warp per query head, in slice
// order. Every sum has a fixed order, so the bits do not change from run to run or with the launch.
//
// Thread (group, chunk) of the value pass owns 8 dimensions of the keys group, group + kGroups, ...
// of the slice (loaded into registers before the scores exist, beside the key loads); the groups
// of a warp are summed by shuffles in a fixed tree, then the warps in warp order.
// Head dimensions 64 and 128 (kChunks 8 and 16 divide a warp), 2 to 8 query heads per K/V head.
#include <cuda_fp16.h>

#include <cmath>

#include "cuda/attention_decode_math.cuh"
#include "cuda/attention_kernels.cuh"
#include "cuda/block_reduce.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/launch.cuh"
#include "cuda/rope_math.cuh"

namespace llama_worker::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxGroup = 8;  // query heads per K/V head, one warp each in the softmax and combine
constexpr int kSlice = static_cast<int>(kAttentionKeysPerSplit);
static_assert(kSlice == kThreads, "one thread per key of a slice");

// Shared memory, in floats, for a group of `group` query heads of `head_dim` dimensions.
constexpr int64_t shared_floats(int64_t group, int64_t head_dim) {
  return group * head_dim             // q, rotated
         + group * kSlice             // scores, then exp(score - max)
         + group * kWarps * head_dim  // per-warp value sums
         + 2 * kMaxGroup              // per-head max and sum
         + head_dim                   // the new K head, rotated (fp32)
         + head_dim;                  // the new K and V heads in fp16 (head_dim halves each)
}

template <int kChunks>
__global__ void __launch_bounds__(kThreads) attention_grouped_kernel(AttentionParams p) {
  pdl_launch_dependents();
  pdl_wait();
  constexpr int kDims = kChunks * 8;
  constexpr int kGroups = kThreads / kChunks;  // key groups of the value pass
  constexpr int kKeys = kSlice / kGroups;      // keys per thread in the value pass
  constexpr int kGroupsPerWarp = 32 / kChunks;
  const int group_size = static_cast<int>(p.heads / p.kv_heads);
  extern __shared__ float shared[];
  float* q = shared;                                       // group_size x kDims
  float* scores = q + group_size * kDims;                  // group_size x kSlice
  float* warp_sums = scores + group_size * kSlice;         // group_size x kWarps x kDims
  float* stats = warp_sums + group_size * kWarps * kDims;  // max[kMaxGroup], sum[kMaxGroup]
  float* k_rotated = stats + 2 * kMaxGroup;                // kDims
  __half* k_new = reinterpret_cast<__half*>(k_rotated + kDims);
  __half* v_new = k_new + kDims;

  const int64_t kv_head = blockIdx.x;
  const int64_t split = blockIdx.y;
  const int64_t splits = gridDim.y;
  const int64_t first_head = kv_head * group_size;
  const int64_t position = p.positions[0];
  const int64_t first =
      p.sliding_window > 0 && position - p.sliding_window + 1 > 0 ? position - p.sliding_window + 1 : 0;
  const int64_t first_split = first / kSlice;
  const int64_t last_split = position / kSlice;
  if (split < first_split || split > last_split) return;
  const int64_t begin = max(first, split * kSlice);
  const int64_t end = min(position + 1, (split + 1) * kSlice);
  const int64_t count = end - begin;
  const int64_t row_width = p.kv_heads * kDims;

  const bool fused = p.rope_table != nullptr;
  const bool holds_new = fused && split == last_split;
  for (int64_t i = threadIdx.x; i < group_size * kDims; i += kThreads) q[i] = p.q[first_head * kDims + i];
  if (holds_new) {
    for (int64_t d = threadIdx.x; d < kDims; d += kThreads) k_rotated[d] = p.new_k[kv_head * kDims + d];
  }
  __syncthreads();
  if (fused) {
    const int64_t half = p.rotary_dims / 2;
    const bool neox = p.rope_style == RopeStyle::kNeox;
    for (int64_t i = threadIdx.x; i < (group_size + 1) * half; i += kThreads) {
      const int64_t g = i / half, pair = i % half;
      const float2 cs = p.rope_table[position * half + pair];
      float* x = g < group_size ? q + g * kDims : k_rotated;
      if (g < group_size || holds_new)
        rope_rotate(x, neox ? pair : 2 * pair, neox ? pair + half : 2 * pair + 1, cs);
    }
    if (holds_new) {
      __syncthreads();
      // This block is the only one of its K/V head at the query's slice: it stores the cache rows.
      const int64_t at = position * row_width + kv_head * kDims;
      for (int64_t d = threadIdx.x; d < kDims; d += kThreads) {
        k_new[d] = __float2half_rn(k_rotated[d]);
        v_new[d] = __float2half_rn(p.new_v[kv_head * kDims + d]);
        p.k_store[at + d] = k_new[d];
        p.v_store[at + d] = v_new[d];
      }
    }
    __syncthreads();
  }

  // Value rows into registers first, so their loads are in flight with the key loads.
  const int chunk = threadIdx.x % kChunks;
  const int key_group = threadIdx.x / kChunks;
  uint4 values[kKeys];
  {
    const __half* base = p.v_cache + begin * row_width + kv_head * kDims + chunk * 8;
#pragma unroll
    for (int i = 0; i < kKeys; ++i) {
      const int64_t j = key_group + static_cast<int64_t>(i) * kGroups;
      values[i] = make_uint4(0, 0, 0, 0);
      if (j < count) {
        const __half* row = holds_new && begin + j == position ? v_new + chunk * 8 : base + j * row_width;
        values[i] = *reinterpret_cast<const uint4*>(row);
      }
    }
  }

  // Scores: thread j reads key j once and scores it against every query head of the group.
  if (threadIdx.x < count) {
    const int64_t j = threadIdx.x;
    const __half* row =
        holds_new && begin + j == position ? k_new : p.k_cache + (begin + j) * row_width + kv_head * kDims;
    uint4 packed[kChunks];
#pragma unroll
    for (int c = 0; c < kChunks; ++c) packed[c] = reinterpret_cast<const uint4*>(row)[c];
    for (int g = 0; g < group_size; ++g) {
      const float4* q4 = reinterpret_cast<const float4*>(q + g * kDims);
      const float dot = key_dot<kChunks>(packed, q4);
      scores[g * kSlice + j] = dot * p.scale;
    }
  }
  __syncthreads();

  // Softmax statistics: warp g takes query head g (lanes over keys, then a warp tree).
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  if (warp < group_size) {
    float* row = scores + warp * kSlice;
    float local_max = -INFINITY;
    for (int64_t j = lane; j < count; j += 32) local_max = fmaxf(local_max, row[j]);
    const float max_score = warp_reduce_max(local_max);
    float local_sum = 0.0f;
    for (int64_t j = lane; j < count; j += 32) {
      const float e = expf(row[j] - max_score);
      row[j] = e;
      local_sum += e;
    }
    const float sum = warp_reduce_sum(local_sum);
    if (lane == 0) {
      stats[warp] = max_score;
      stats[kMaxGroup + warp] = sum;
    }
  }
  __syncthreads();

  // Values: per query head, this thread's keys in key order, the warp's groups by a shuffle tree.
  for (int g = 0; g < group_size; ++g) {
    const float* weights = scores + g * kSlice;
    float acc[8] = {};
#pragma unroll
    for (int i = 0; i < kKeys; ++i) {
      const int64_t j = key_group + static_cast<int64_t>(i) * kGroups;
      if (j >= count) break;
      accumulate_value_chunk(values[i], weights[j], acc);
    }
#pragma unroll
    for (int offset = kChunks; offset < 32; offset *= 2) {
#pragma unroll
      for (int k = 0; k < 8; ++k) acc[k] += __shfl_xor_sync(0xffffffffu, acc[k], offset);
    }
    if (lane < kChunks) {
#pragma unroll
      for (int k = 0; k < 8; ++k) warp_sums[(g * kWarps + warp) * kDims + chunk * 8 + k] = acc[k];
    }
  }
  static_assert(kGroupsPerWarp * kChunks == 32, "a warp holds whole key groups");
  __syncthreads();

  const bool alone = first_split == last_split;
  float* partials = p.workspace;
  const int64_t stride = kDims + 2;
  for (int64_t i = threadIdx.x; i < group_size * kDims; i += kThreads) {
    const int64_t g = i / kDims, d = i % kDims;
    float total = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) total += warp_sums[(g * kWarps + w) * kDims + d];
    if (alone) {
      p.out[(first_head + g) * kDims + d] = total / stats[kMaxGroup + g];
    } else {
      partials[((first_head + g) * splits + split) * stride + 2 + d] = total;
    }
  }
  if (alone) return;
  if (threadIdx.x < group_size) {
    float* partial = partials + ((first_head + threadIdx.x) * splits + split) * stride;
    partial[0] = stats[threadIdx.x];
    partial[1] = stats[kMaxGroup + threadIdx.x];
  }

  // The last block of the K/V head to finish combines its query heads, in slice order.
  __shared__ bool last_block;
  unsigned* counters = reinterpret_cast<unsigned*>(p.workspace + p.heads * splits * stride);
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0)
    last_block = atomicAdd(&counters[kv_head], 1u) == static_cast<unsigned>(last_split - first_split);
  __syncthreads();
  if (!last_block) return;
  __threadfence();
  if (warp < group_size) {
    const int64_t head = first_head + warp;
    const float* slices = partials + (head * splits + first_split) * stride;
    const int64_t used = last_split - first_split + 1;
    const bool cached = used <= kSlice;
    float* slice_weights = scores + warp * kSlice;
    float local_max = -INFINITY;
    for (int64_t s = lane; s < used; s += 32) local_max = fmaxf(local_max, __ldcg(slices + s * stride));
    const float global_max = warp_reduce_max(local_max);
    float local_sum = 0.0f;
    for (int64_t s = lane; s < used; s += 32) {
      const float w = expf(__ldcg(slices + s * stride) - global_max);
      if (cached) slice_weights[s] = w;
      local_sum = fmaf(w, __ldcg(slices + s * stride + 1), local_sum);
    }
    const float denominator = warp_reduce_sum(local_sum);
    __syncwarp();
    constexpr int kDimsPerLane = kDims / 32;
    float numerator[kDimsPerLane] = {};
    // 16 slices' loads in flight per lane: the chain of L2 round trips is the combine's cost.
#pragma unroll 16
    for (int64_t s = 0; s < used; ++s) {
      const float w = cached ? slice_weights[s] : expf(__ldcg(slices + s * stride) - global_max);
#pragma unroll
      for (int k = 0; k < kDimsPerLane; ++k)
        numerator[k] = fmaf(w, __ldcg(slices + s * stride + 2 + lane + 32 * k), numerator[k]);
    }
#pragma unroll
    for (int k = 0; k < kDimsPerLane; ++k) p.out[head * kDims + lane + 32 * k] = numerator[k] / denominator;
  }
  if (threadIdx.x == 0) counters[kv_head] = 0;  // re-armed for the next launch
}

template <int kChunks>
Status launch_grouped(const AttentionParams& p, cudaStream_t stream) {
  const int64_t splits = (p.capacity + kAttentionKeysPerSplit - 1) / kAttentionKeysPerSplit;
  const size_t shared_bytes =
      sizeof(float) * static_cast<size_t>(shared_floats(p.heads / p.kv_heads, kChunks * 8));
  LW_CUDA_TRY(launch(attention_grouped_kernel<kChunks>,
                     dim3(static_cast<unsigned>(p.kv_heads), static_cast<unsigned>(splits)), kThreads,
                     shared_bytes, stream, p));
  return Status::ok();
}

}  // namespace

bool attention_decode_grouped_supports(const AttentionParams& p) {
  const int64_t group = p.kv_heads > 0 ? p.heads / p.kv_heads : 0;
  return group >= 2 && group <= kMaxGroup && (p.head_dim == 64 || p.head_dim == 128);
}

Status attention_decode_grouped(const AttentionParams& p, cudaStream_t stream) {
  if (p.head_dim == 64) return launch_grouped<8>(p, stream);
  return launch_grouped<16>(p, stream);
}

}  // namespace llama_worker::kernels::cuda
