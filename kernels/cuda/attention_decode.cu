// Decode attention (one query), split-KV: the keys are cut into fixed slices of
// kAttentionKeysPerSplit, one block per (head, slice). A block scores its slice (one thread per
// key), takes the slice's max and sum, and accumulates exp(score - max) * V over the slice. When
// the query sees a single slice (up to 256 keys), that block writes the normalized output itself;
// otherwise it writes (max, sum, acc[head_dim]) to the workspace and the last block of the head to
// finish combines the slices in slice order. Every sum has a fixed order: the same bits every run.
//
// Head dimensions that are multiples of 8 up to 128 (the models' 64, 96, 128) use 16-byte loads of
// K and V with the dimension count known at compile time; others take the generic form.
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
constexpr int kMaxDimsPerLane = 8;  // generic V pass: head_dim <= 256

// Shared floats after q and the slice's scores: per-thread-group partial sums of V.
constexpr int kPartialFloats = kThreads * 8;

struct SliceResult {
  float max_score;
  float sum;
};

// Scores and softmax statistics of keys [begin, end); scores[j] ends as exp(score - max).
// Key `override_key` is read from `k_override` (fp16, head_dim) instead of the cache when that is set.
template <int kChunks>
__device__ SliceResult score_slice(const AttentionParams& p, float* scratch, const float* q, float* scores,
                                   int64_t kv_head, int64_t begin, int64_t end, const __half* k_override,
                                   int64_t override_key) {
  const int64_t count = end - begin;
  const int64_t row_width = p.kv_heads * p.head_dim;
  if constexpr (kChunks > 0) {
    const float4* q4 = reinterpret_cast<const float4*>(q);
    for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
      const __half* row = k_override != nullptr && begin + j == override_key
                              ? k_override
                              : p.k_cache + (begin + j) * row_width + kv_head * kChunks * 8;
      const uint4* key = reinterpret_cast<const uint4*>(row);
      uint4 packed[kChunks];
#pragma unroll
      for (int c = 0; c < kChunks; ++c) packed[c] = key[c];
      const float dot = key_dot<kChunks>(packed, q4);
      scores[j] = dot * p.scale;
    }
  } else {
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
    const int warps = blockDim.x / 32;
    for (int64_t j = warp; j < count; j += warps) {
      const __half* key = k_override != nullptr && begin + j == override_key
                              ? k_override
                              : p.k_cache + (begin + j) * row_width + kv_head * p.head_dim;
      float dot = 0.0f;
      for (int64_t d = lane; d < p.head_dim; d += 32) dot = fmaf(q[d], __half2float(key[d]), dot);
      dot = warp_reduce_sum(dot);
      if (lane == 0) scores[j] = dot * p.scale;
    }
  }
  __syncthreads();
  float local_max = -INFINITY;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) local_max = fmaxf(local_max, scores[j]);
  const float max_score = block_reduce_max(local_max, scratch);
  float local_sum = 0.0f;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    const float e = expf(scores[j] - max_score);
    scores[j] = e;
    local_sum += e;
  }
  const float sum = block_reduce_sum(local_sum, scratch);  // its barriers also publish scores[]
  return {max_score, sum};
}

// Vector path: thread (group, chunk) owns 8 dimensions of keys group, group + kGroups, ... of the
// slice. Their V rows are loaded into registers before the scores exist, so that the value loads
// are in flight together with the key loads. The generic path (kChunks == 0) loads as it goes.
template <int kChunks>
struct ValueRows {
  static constexpr int kGroups = kThreads / kChunks;
  static constexpr int kKeys = (kAttentionKeysPerSplit + kGroups - 1) / kGroups;
  uint4 rows[kKeys];

  __device__ void load(const AttentionParams& p, int64_t kv_head, int64_t begin, int64_t count,
                       const __half* v_override, int64_t override_key) {
    const int chunk = threadIdx.x % kChunks;
    const int group = threadIdx.x / kChunks;
    const int64_t row_width = p.kv_heads * p.head_dim;
    const __half* base = p.v_cache + begin * row_width + kv_head * kChunks * 8 + chunk * 8;
#pragma unroll
    for (int i = 0; i < kKeys; ++i) {
      const int64_t j = group + static_cast<int64_t>(i) * kGroups;
      rows[i] = make_uint4(0, 0, 0, 0);
      if (group < kGroups && j < count) {
        const __half* row = v_override != nullptr && begin + j == override_key ? v_override + chunk * 8
                                                                               : base + j * row_width;
        rows[i] = *reinterpret_cast<const uint4*>(row);
      }
    }
  }
};
template <>
struct ValueRows<0> {
  __device__ void load(const AttentionParams&, int64_t, int64_t, int64_t, const __half*, int64_t) {}
};

// result[d] = sum_j scores[j] * V[begin + j][d], for d < head_dim (then __syncthreads()).
// Value row `override_key` comes from `v_override` when that is set (as in score_slice).
template <int kChunks>
__device__ void accumulate_values(const AttentionParams& p, const float* scores, float* partials,
                                  int64_t kv_head, int64_t begin, int64_t count, float* result,
                                  const __half* v_override, int64_t override_key,
                                  const ValueRows<kChunks>& values) {
  const int64_t row_width = p.kv_heads * p.head_dim;
  if constexpr (kChunks > 0) {
    // Groups summed in group order, each over its keys in key order.
    constexpr int kGroups = ValueRows<kChunks>::kGroups;
    const int chunk = threadIdx.x % kChunks;
    const int group = threadIdx.x / kChunks;
    float acc[8] = {};
    if (group < kGroups) {
#pragma unroll
      for (int i = 0; i < ValueRows<kChunks>::kKeys; ++i) {
        const int64_t j = group + static_cast<int64_t>(i) * kGroups;
        if (j >= count) break;
        accumulate_value_chunk(values.rows[i], scores[j], acc);
      }
#pragma unroll
      for (int k = 0; k < 8; ++k) partials[group * kChunks * 8 + chunk * 8 + k] = acc[k];
    }
    __syncthreads();
    for (int d = threadIdx.x; d < kChunks * 8; d += blockDim.x) {
      float total = 0.0f;
#pragma unroll
      for (int g = 0; g < kGroups; ++g) total += partials[g * kChunks * 8 + d];
      result[d] = total;
    }
  } else {
    // Warps take keys in turn, lanes own dimensions; per-warp sums added in warp order.
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
    const int warps = blockDim.x / 32;
    float acc[kMaxDimsPerLane] = {};
    for (int64_t j = warp; j < count; j += warps) {
      const float weight = scores[j];
      const __half* value = v_override != nullptr && begin + j == override_key
                                ? v_override
                                : p.v_cache + (begin + j) * row_width + kv_head * p.head_dim;
#pragma unroll
      for (int k = 0; k < kMaxDimsPerLane; ++k) {
        const int64_t d = lane + 32 * k;
        if (d < p.head_dim) acc[k] = fmaf(weight, __half2float(value[d]), acc[k]);
      }
    }
#pragma unroll
    for (int k = 0; k < kMaxDimsPerLane; ++k) {
      const int64_t d = lane + 32 * k;
      if (d < p.head_dim) partials[warp * p.head_dim + d] = acc[k];
    }
    __syncthreads();
    for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
      float total = 0.0f;
      for (int w = 0; w < warps; ++w) total += partials[w * p.head_dim + d];
      result[d] = total;
    }
  }
  __syncthreads();
}

// The slices [first_split, last_split] of one head (L2 reads: other blocks of this launch wrote
// them): threads take slices for the max and the denominator (block reductions, fixed order),
// then each thread sums its output dimensions over the slices in slice order. `weights` holds
// kAttentionKeysPerSplit floats of shared memory (the slice weights, when that many or fewer).
__device__ void combine_head(const AttentionParams& p, int64_t head, int64_t splits, int64_t first_split,
                             int64_t last_split, float* weights, float* scratch) {
  const int64_t stride = p.head_dim + 2;
  const float* partials = p.workspace + (head * splits + first_split) * stride;
  const int64_t used = last_split - first_split + 1;
  const bool cached = used <= kAttentionKeysPerSplit;
  float local_max = -INFINITY;
  for (int64_t s = threadIdx.x; s < used; s += blockDim.x)
    local_max = fmaxf(local_max, __ldcg(partials + s * stride));
  const float global_max = block_reduce_max(local_max, scratch);
  float local_sum = 0.0f;
  for (int64_t s = threadIdx.x; s < used; s += blockDim.x) {
    const float w = expf(__ldcg(partials + s * stride) - global_max);
    if (cached) weights[s] = w;
    local_sum = fmaf(w, __ldcg(partials + s * stride + 1), local_sum);
  }
  const float denominator = block_reduce_sum(local_sum, scratch);  // its barriers publish weights[]
  for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
    float numerator = 0.0f;
#pragma unroll 8
    for (int64_t s = 0; s < used; ++s) {
      const float w = cached ? weights[s] : expf(__ldcg(partials + s * stride) - global_max);
      numerator = fmaf(w, __ldcg(partials + s * stride + 2 + d), numerator);
    }
    p.out[head * p.head_dim + d] = numerator / denominator;
  }
}

// Register spills (ptxas -warn-spills, sm_90): attention_split_kernel<8> (head_dim 64) spills
// 28 bytes. Each of the 256 threads holds its slice's V rows in registers before the scores exist
// (ValueRows<8>: 8 keys x one uint4 = 32 registers) beside 8 uint4 key chunks being scored, so
// loads of keys and values are in flight together; 28 bytes out of that is the price of the
// overlap, paid in L1-resident local memory once per slice. Kept: the decode attention is being
// rewritten (slices exchanged through cluster shared memory; README "Issue-7 targets not met").
// CI's -Werror builds leave -warn-spills out (kernels/cuda/CMakeLists.txt), so it does not fail them.
template <int kChunks>
__global__ void __launch_bounds__(kThreads) attention_split_kernel(AttentionParams p) {
  pdl_launch_dependents();
  pdl_wait();
  extern __shared__ float shared[];
  float* scratch = shared;                            // 32
  float* q = shared + 32;                             // head_dim (16-byte aligned)
  float* scores = q + p.head_dim;                     // kAttentionKeysPerSplit
  float* partials = scores + kAttentionKeysPerSplit;  // kPartialFloats
  float* result = partials + kPartialFloats;          // head_dim
  float* k_rotated = result + p.head_dim;             // head_dim (fused RoPE: the new K head, fp32)
  __half* k_new = reinterpret_cast<__half*>(k_rotated + p.head_dim);  // head_dim halves, then v_new
  __half* v_new = k_new + p.head_dim;
  const int64_t head = blockIdx.x;
  const int64_t split = blockIdx.y;
  const int64_t splits = gridDim.y;
  const int64_t kv_head = head / (p.heads / p.kv_heads);
  const int64_t position = p.positions[0];
  const int64_t first =
      p.sliding_window > 0 && position - p.sliding_window + 1 > 0 ? position - p.sliding_window + 1 : 0;
  // Only slices holding visible keys take part; the others leave at once.
  const int64_t first_split = first / kAttentionKeysPerSplit;
  const int64_t last_split = position / kAttentionKeysPerSplit;
  if (split < first_split || split > last_split) return;
  const int64_t begin = max(first, split * kAttentionKeysPerSplit);
  const int64_t end = min(position + 1, (split + 1) * kAttentionKeysPerSplit);

  // Fused RoPE: this block's slice holds the query's own key when it is the last slice.
  const bool fused = p.rope_table != nullptr;
  const bool holds_new = fused && split == last_split;
  for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
    q[d] = p.q[head * p.head_dim + d];
    if (holds_new) k_rotated[d] = p.new_k[kv_head * p.head_dim + d];
  }
  __syncthreads();
  if (fused) {
    const int64_t half = p.rotary_dims / 2;
    const bool neox = p.rope_style == RopeStyle::kNeox;
    for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
      const float2 cs = p.rope_table[position * half + i];
      rope_rotate(q, neox ? i : 2 * i, neox ? i + half : 2 * i + 1, cs);
      if (holds_new) rope_rotate(k_rotated, neox ? i : 2 * i, neox ? i + half : 2 * i + 1, cs);
    }
    if (holds_new) {
      __syncthreads();
      // One writer per K/V head (its first query head) stores the cache row for later steps.
      const bool writer = head % (p.heads / p.kv_heads) == 0;
      const int64_t at = position * p.kv_heads * p.head_dim + kv_head * p.head_dim;
      for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
        k_new[d] = __float2half_rn(k_rotated[d]);
        v_new[d] = __float2half_rn(p.new_v[kv_head * p.head_dim + d]);
        if (writer) {
          p.k_store[at + d] = k_new[d];
          p.v_store[at + d] = v_new[d];
        }
      }
    }
    __syncthreads();
  }
  const __half* k_override = holds_new ? k_new : nullptr;
  const __half* v_override = holds_new ? v_new : nullptr;
  ValueRows<kChunks> values;
  values.load(p, kv_head, begin, end - begin, v_override, position);
  const SliceResult slice =
      score_slice<kChunks>(p, scratch, q, scores, kv_head, begin, end, k_override, position);
  accumulate_values<kChunks>(p, scores, partials, kv_head, begin, end - begin, result, v_override, position,
                             values);

  if (first_split == last_split) {  // one slice: this block is the whole answer
    const float inverse = 1.0f / slice.sum;
    for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x)
      p.out[head * p.head_dim + d] = result[d] * inverse;
    return;
  }
  float* partial = p.workspace + (head * splits + split) * (p.head_dim + 2);
  for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) partial[2 + d] = result[d];
  if (threadIdx.x == 0) {
    partial[0] = slice.max_score;
    partial[1] = slice.sum;
  }
  // The last block of the head to finish combines, in slice order (so the result does not depend
  // on which block that is), then re-arms the head's counter for the next step.
  __shared__ bool last_block;
  unsigned* counters = reinterpret_cast<unsigned*>(p.workspace + p.heads * splits * (p.head_dim + 2));
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    last_block = atomicAdd(&counters[head], 1u) == static_cast<unsigned>(last_split - first_split);
  }
  __syncthreads();
  if (!last_block) return;
  __threadfence();
  combine_head(p, head, splits, first_split, last_split, scores, scratch);
  if (threadIdx.x == 0) counters[head] = 0;
}

template <int kChunks>
Status launch_split(const AttentionParams& p, cudaStream_t stream) {
  const int64_t splits = (p.capacity + kAttentionKeysPerSplit - 1) / kAttentionKeysPerSplit;
  const size_t shared_bytes = sizeof(float) * static_cast<size_t>(32 + p.head_dim + kAttentionKeysPerSplit +
                                                                  kPartialFloats + 3 * p.head_dim);
  LW_CUDA_TRY(launch(attention_split_kernel<kChunks>,
                     dim3(static_cast<unsigned>(p.heads), static_cast<unsigned>(splits)), kThreads,
                     shared_bytes, stream, p));
  return Status::ok();
}

}  // namespace

Status attention_decode_split(const AttentionParams& p, cudaStream_t stream) {
  if (p.grouped_decode && attention_decode_grouped_supports(p)) return attention_decode_grouped(p, stream);
  if (p.head_dim == 64) return launch_split<8>(p, stream);
  if (p.head_dim == 96) return launch_split<12>(p, stream);
  if (p.head_dim == 128) return launch_split<16>(p, stream);
  return launch_split<0>(p, stream);
}

}  // namespace llama_worker::kernels::cuda
