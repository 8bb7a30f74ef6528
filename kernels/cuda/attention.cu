#include "cuda/attention.cuh"
#include "cuda/block_reduce.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/launch.cuh"

#include <cmath>

namespace llama_worker::kernels::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxDimsPerLane = 8;    // split-KV V pass: head_dim <= 256 uses the warp-per-key form
constexpr int kMaxVectorsPerRow = 32;  // split-KV scores: head_dim <= 256 uses 16-byte key loads

__global__ void kv_store_kernel(KvStoreParams p) {
  const int64_t t = blockIdx.x;
  const int64_t row = p.positions[t];
  if (row < 0 || row >= p.capacity) return;  // the launcher's caller guarantees this; never write out of bounds
  const int64_t width = p.kv_heads * p.head_dim;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    p.k_cache[row * width + i] = __float2half_rn(p.k[t * p.k_stride + i]);
    p.v_cache[row * width + i] = __float2half_rn(p.v[t * p.v_stride + i]);
  }
}

__global__ void __launch_bounds__(kThreads) attention_kernel(AttentionParams p) {
  extern __shared__ float shared[];
  float* scratch = shared;                  // 32 floats for reductions
  float* q = shared + 32;                   // head_dim floats
  float* scores = q + p.head_dim;           // up to capacity floats
  const int64_t head = blockIdx.x;
  const int64_t t = blockIdx.y;
  const int64_t kv_head = head / (p.heads / p.kv_heads);
  const int64_t position = p.positions[t];
  const int64_t first = p.sliding_window > 0 && position - p.sliding_window + 1 > 0 ? position - p.sliding_window + 1 : 0;
  const int64_t count = position - first + 1;
  const int64_t row_width = p.kv_heads * p.head_dim;

  for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) q[d] = p.q[t * p.q_stride + head * p.head_dim + d];
  __syncthreads();

  float local_max = -INFINITY;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    const __half* key = p.k_cache + (first + j) * row_width + kv_head * p.head_dim;
    float dot = 0.0f;
    for (int64_t d = 0; d < p.head_dim; ++d) dot = fmaf(q[d], __half2float(key[d]), dot);
    const float score = dot * p.scale;
    scores[j] = score;
    local_max = fmaxf(local_max, score);
  }
  const float max_score = block_reduce_max(local_max, scratch);
  float local_sum = 0.0f;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    const float e = expf(scores[j] - max_score);
    scores[j] = e;
    local_sum += e;
  }
  const float sum = block_reduce_sum(local_sum, scratch);  // its barriers also publish scores[]
  const float inverse = 1.0f / sum;
  for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
    const __half* value = p.v_cache + first * row_width + kv_head * p.head_dim + d;
    float acc = 0.0f;
#pragma unroll 8
    for (int64_t j = 0; j < count; ++j) acc = fmaf(scores[j], __half2float(value[j * row_width]), acc);
    p.out[(t * p.heads + head) * p.head_dim + d] = acc * inverse;
  }
}

// Split-KV decode, pass 1: block (head, split) scores keys [split * K, split * K + K) that the
// query sees, one warp per key (lanes split the head dimension, butterfly sum), then each thread
// owns output dimensions and accumulates exp(score - max) * V over the slice in key order.
// Writes (max, sum, acc[head_dim]) per (head, split); a slice with no visible key writes max -inf.
// Split-KV decode, combination: the slices of one head in slice order (L2 reads: the partials
// were written by other blocks of the same launch).
__device__ void combine_head(const AttentionParams& p, int64_t head, int64_t splits) {
  const float* partials = p.workspace + head * splits * (p.head_dim + 2);
  float global_max = -INFINITY;
  for (int64_t s = 0; s < splits; ++s) global_max = fmaxf(global_max, __ldcg(partials + s * (p.head_dim + 2)));
  float denominator = 0.0f;
  for (int64_t s = 0; s < splits; ++s) {
    const float m = __ldcg(partials + s * (p.head_dim + 2));
    if (m != -INFINITY) denominator += expf(m - global_max) * __ldcg(partials + s * (p.head_dim + 2) + 1);
  }
  for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
    float numerator = 0.0f;
    for (int64_t s = 0; s < splits; ++s) {
      const float m = __ldcg(partials + s * (p.head_dim + 2));
      if (m != -INFINITY) numerator += expf(m - global_max) * __ldcg(partials + s * (p.head_dim + 2) + 2 + d);
    }
    p.out[head * p.head_dim + d] = numerator / denominator;
  }
}

// One (head, slice) of the split-KV decode: scores keys [begin, end) that the query sees, then
// writes (max, sum, acc[head_dim]) to `partial`.
__device__ void score_slice(const AttentionParams& p, float* scratch, float* q, float* scores, int64_t head,
                            int64_t kv_head, int64_t begin, int64_t end, float* partial) {
  const int64_t count = end - begin;
  const int64_t row_width = p.kv_heads * p.head_dim;
  for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) q[d] = p.q[head * p.head_dim + d];
  __syncthreads();
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int warps = blockDim.x / 32;
  // Rows of whole 16-byte groups (head_dim % 8 == 0, the models' case): one thread per key, 8 fp16
  // per load, q broadcast from shared memory. Otherwise one warp per key, lanes over dimensions.
  const bool vectorized = p.head_dim % 8 == 0 && p.head_dim <= 8 * kMaxVectorsPerRow;
  if (vectorized) {
    for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
      const uint4* key = reinterpret_cast<const uint4*>(p.k_cache + (begin + j) * row_width + kv_head * p.head_dim);
      float dot = 0.0f;
      for (int64_t c = 0; c < p.head_dim / 8; ++c) {
        const uint4 packed = key[c];
        const __half2* h = reinterpret_cast<const __half2*>(&packed);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const float2 f = __half22float2(h[k]);
          dot = fmaf(q[8 * c + 2 * k], f.x, dot);
          dot = fmaf(q[8 * c + 2 * k + 1], f.y, dot);
        }
      }
      scores[j] = dot * p.scale;
    }
  } else {
    for (int64_t j = warp; j < count; j += warps) {
      const __half* key = p.k_cache + (begin + j) * row_width + kv_head * p.head_dim;
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
  if (p.head_dim <= 32 * kMaxDimsPerLane) {
    // Warps take keys in turn, lanes own dimensions (coalesced rows of V); the per-warp sums are
    // then added in warp order, so the result does not depend on timing.
    float acc[kMaxDimsPerLane];
#pragma unroll
    for (int k = 0; k < kMaxDimsPerLane; ++k) acc[k] = 0.0f;
    for (int64_t j = warp; j < count; j += warps) {
      const float weight = scores[j];
      const __half* value = p.v_cache + (begin + j) * row_width + kv_head * p.head_dim;
#pragma unroll
      for (int k = 0; k < kMaxDimsPerLane; ++k) {
        const int64_t d = lane + 32 * k;
        if (d < p.head_dim) acc[k] = fmaf(weight, __half2float(value[d]), acc[k]);
      }
    }
    float* per_warp = scores + kAttentionKeysPerSplit;  // warps x head_dim
#pragma unroll
    for (int k = 0; k < kMaxDimsPerLane; ++k) {
      const int64_t d = lane + 32 * k;
      if (d < p.head_dim) per_warp[warp * p.head_dim + d] = acc[k];
    }
    __syncthreads();
    for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
      float total = 0.0f;
      for (int w = 0; w < warps; ++w) total += per_warp[w * p.head_dim + d];
      partial[2 + d] = total;
    }
  } else {
    for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
      const __half* value = p.v_cache + begin * row_width + kv_head * p.head_dim + d;
      float acc = 0.0f;
#pragma unroll 8
      for (int64_t j = 0; j < count; ++j) acc = fmaf(scores[j], __half2float(value[j * row_width]), acc);
      partial[2 + d] = acc;
    }
  }
  if (threadIdx.x == 0) {
    partial[0] = max_score;
    partial[1] = sum;
  }
}

__global__ void __launch_bounds__(kThreads) attention_split_kernel(AttentionParams p) {
  pdl_launch_dependents();
  pdl_wait();
  extern __shared__ float shared[];
  float* scratch = shared;                 // 32
  float* q = shared + 32;                  // head_dim
  float* scores = q + p.head_dim;          // kAttentionKeysPerSplit, then warps x head_dim
  const int64_t head = blockIdx.x;
  const int64_t split = blockIdx.y;
  const int64_t splits = gridDim.y;
  const int64_t kv_head = head / (p.heads / p.kv_heads);
  const int64_t position = p.positions[0];
  const int64_t first = p.sliding_window > 0 && position - p.sliding_window + 1 > 0 ? position - p.sliding_window + 1 : 0;
  const int64_t begin = max(first, split * kAttentionKeysPerSplit);
  const int64_t end = min(position + 1, (split + 1) * kAttentionKeysPerSplit);
  float* partial = p.workspace + (head * splits + split) * (p.head_dim + 2);
  if (begin >= end) {
    if (threadIdx.x == 0) {
      partial[0] = -INFINITY;
      partial[1] = 0.0f;
    }
    for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) partial[2 + d] = 0.0f;
  } else {
    score_slice(p, scratch, q, scores, head, kv_head, begin, end, partial);
  }
  // The last block of a head to finish combines the head's slices, in slice order (so the result
  // does not depend on which block that is), then re-arms the head's counter for the next step.
  __shared__ bool last_block;
  unsigned* counters = reinterpret_cast<unsigned*>(p.workspace + p.heads * splits * (p.head_dim + 2));
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last_block = atomicAdd(&counters[head], 1u) == static_cast<unsigned>(splits - 1);
  __syncthreads();
  if (!last_block) return;
  __threadfence();
  combine_head(p, head, splits);
  if (threadIdx.x == 0) counters[head] = 0;
}


}  // namespace

Status kv_store(const KvStoreParams& params, cudaStream_t stream) {
  KvStoreParams p = params;
  if (p.k_stride == 0) p.k_stride = p.kv_heads * p.head_dim;
  if (p.v_stride == 0) p.v_stride = p.kv_heads * p.head_dim;
  if (p.k_cache == nullptr || p.v_cache == nullptr || p.k == nullptr || p.v == nullptr || p.positions == nullptr ||
      p.tokens < 0 || p.kv_heads <= 0 || p.head_dim <= 0 || p.capacity <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "kv_store: null pointer or bad shape");
  }
  if (p.tokens == 0) return Status::ok();
  kv_store_kernel<<<static_cast<unsigned>(p.tokens), 128, 0, stream>>>(p);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

Status attention_split_workspace_reset(float* workspace, int64_t heads, int64_t head_dim, int64_t capacity,
                                       cudaStream_t stream) {
  if (workspace == nullptr || heads <= 0) return make_error(ErrorCode::kInvalidArgument, "attention workspace reset: no workspace");
  const int64_t counters_at = attention_split_workspace_floats(heads, head_dim, capacity) - heads;
  LW_CUDA_TRY(cudaMemsetAsync(workspace + counters_at, 0, static_cast<size_t>(heads) * sizeof(float), stream));
  return Status::ok();
}

Status attention(const AttentionParams& params, cudaStream_t stream) {
  AttentionParams p = params;
  if (p.q_stride == 0) p.q_stride = p.heads * p.head_dim;
  if (p.scale == 0.0f) p.scale = 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  if (p.out == nullptr || p.q == nullptr || p.k_cache == nullptr || p.v_cache == nullptr || p.positions == nullptr ||
      p.q_tokens < 0 || p.heads <= 0 || p.kv_heads <= 0 || p.heads % p.kv_heads != 0 || p.head_dim <= 0 ||
      p.capacity <= 0 || p.sliding_window < 0) {
    return make_error(ErrorCode::kInvalidArgument, "attention: null pointer or bad shape (kv_heads must divide heads)");
  }
  if (p.q_tokens == 0) return Status::ok();
  if (p.q_tokens == 1 && p.workspace != nullptr) {
    const int64_t splits = (p.capacity + kAttentionKeysPerSplit - 1) / kAttentionKeysPerSplit;
    if (p.workspace_floats < attention_split_workspace_floats(p.heads, p.head_dim, p.capacity)) {
      return make_error(ErrorCode::kInvalidArgument, "attention: split-KV workspace too small");
    }
    const size_t split_shared =
        sizeof(float) * static_cast<size_t>(32 + p.head_dim + kAttentionKeysPerSplit + (kThreads / 32) * p.head_dim);
    LW_CUDA_TRY(launch(attention_split_kernel, dim3(static_cast<unsigned>(p.heads), static_cast<unsigned>(splits)), kThreads,
                       split_shared, stream, p));
    return Status::ok();
  }
  const size_t shared_bytes = sizeof(float) * static_cast<size_t>(32 + p.head_dim + p.capacity);
  int device = 0;
  LW_CUDA_TRY(cudaGetDevice(&device));
  int limit = 0;
  LW_CUDA_TRY(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (shared_bytes > static_cast<size_t>(limit)) {
    return make_error(ErrorCode::kUnsupported, "attention: a context of " + std::to_string(p.capacity) +
                                                   " positions needs " + std::to_string(shared_bytes) +
                                                   " bytes of shared memory, the device allows " + std::to_string(limit));
  }
  LW_CUDA_TRY(cudaFuncSetAttribute(attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes)));
  const dim3 grid(static_cast<unsigned>(p.heads), static_cast<unsigned>(p.q_tokens));
  attention_kernel<<<grid, kThreads, shared_bytes, stream>>>(p);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

}  // namespace llama_worker::kernels::cuda
