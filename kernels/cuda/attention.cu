#include "cuda/attention.cuh"

#include <cmath>
#include <string>

#include "cuda/attention_kernels.cuh"
#include "cuda/cuda_check.hpp"

namespace llama_worker::kernels::cuda {
namespace {

__global__ void kv_store_kernel(KvStoreParams p) {
  const int64_t t = blockIdx.x;
  const int64_t row = p.positions[t];
  if (row < 0 || row >= p.capacity)
    return;  // the launcher's caller guarantees this; never write out of bounds
  const int64_t width = p.kv_heads * p.head_dim;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    p.k_cache[row * width + i] = __float2half_rn(p.k[t * p.k_stride + i]);
    p.v_cache[row * width + i] = __float2half_rn(p.v[t * p.v_stride + i]);
  }
}

}  // namespace

Status kv_store(const KvStoreParams& params, cudaStream_t stream) {
  KvStoreParams p = params;
  if (p.k_stride == 0) p.k_stride = p.kv_heads * p.head_dim;
  if (p.v_stride == 0) p.v_stride = p.kv_heads * p.head_dim;
  if (p.k_cache == nullptr || p.v_cache == nullptr || p.k == nullptr || p.v == nullptr ||
      p.positions == nullptr || p.tokens < 0 || p.kv_heads <= 0 || p.head_dim <= 0 || p.capacity <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "kv_store: null pointer or bad shape");
  }
  if (p.tokens == 0) return Status::ok();
  kv_store_kernel<<<static_cast<unsigned>(p.tokens), 128, 0, stream>>>(p);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

Status attention_split_workspace_reset(float* workspace, int64_t heads, int64_t head_dim, int64_t capacity,
                                       cudaStream_t stream) {
  if (workspace == nullptr || heads <= 0)
    return make_error(ErrorCode::kInvalidArgument, "attention workspace reset: no workspace");
  const int64_t counters_at = attention_split_workspace_floats(heads, head_dim, capacity) - heads;
  LW_CUDA_TRY(
      cudaMemsetAsync(workspace + counters_at, 0, static_cast<size_t>(heads) * sizeof(float), stream));
  return Status::ok();
}

Status attention(const AttentionParams& params, cudaStream_t stream) {
  AttentionParams p = params;
  if (p.q_stride == 0) p.q_stride = p.heads * p.head_dim;
  if (p.scale == 0.0f) p.scale = 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  if (p.out == nullptr || p.q == nullptr || p.k_cache == nullptr || p.v_cache == nullptr ||
      p.positions == nullptr || p.q_tokens < 0 || p.heads <= 0 || p.kv_heads <= 0 ||
      p.heads % p.kv_heads != 0 || p.head_dim <= 0 || p.capacity <= 0 || p.sliding_window < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "attention: null pointer or bad shape (kv_heads must divide heads)");
  }
  if (p.head_dim > kAttentionPrefillMaxHeadDim) {
    return make_error(ErrorCode::kUnsupported, "attention: head dimension " + std::to_string(p.head_dim) +
                                                   " exceeds the supported " +
                                                   std::to_string(kAttentionPrefillMaxHeadDim));
  }
  if (p.rope_table != nullptr &&
      (p.q_tokens != 1 || p.workspace == nullptr || p.new_k == nullptr || p.new_v == nullptr ||
       p.k_store == nullptr || p.v_store == nullptr || p.rotary_dims <= 0 || p.rotary_dims % 2 != 0 ||
       p.rotary_dims > p.head_dim)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "attention: fused RoPE needs one query, a split-KV workspace, new K/V, both stores and "
                      "even rotary dims <= head_dim");
  }
  if (p.q_tokens == 0) return Status::ok();
  if (p.q_tokens == 1 && p.workspace != nullptr) {
    if (p.workspace_floats < attention_split_workspace_floats(p.heads, p.head_dim, p.capacity)) {
      return make_error(ErrorCode::kInvalidArgument, "attention: split-KV workspace too small");
    }
    return attention_decode_split(p, stream);
  }
  if (p.tensor_cores && p.q_tokens > 1 && attention_prefill_mma_supports(p))
    return attention_prefill_mma(p, stream);
  return attention_prefill(p, stream);
}

}  // namespace llama_worker::kernels::cuda
