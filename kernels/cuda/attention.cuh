// Attention on the device over an fp16 KV cache: causal, grouped-query, optional sliding
// window; one kernel serves prefill (many queries) and decode (one query). Twin of
// kernels/cpu/attention.hpp (same visibility rule: query at position p sees keys j with
// j <= p and, with a window W > 0, p - j < W).
//
// KV cache layout: (capacity, kv_heads, head_dim) fp16 per layer, K and V separate; position j
// of the sequence is row j. kv_store writes new K/V rows at their positions. Query positions
// are read from device memory, so a captured decode graph stays valid as the sequence grows.
//
// Prefill (many queries): tensor-core tiles of 64 queries x 64 keys (attention_prefill_mma.cu) for
// head dimensions 64, 96 and 128, else tiles of 32 queries x 32 keys through shared memory, online
// softmax (attention_prefill.cu). Decode (one query, workspace given): split-KV, see
// AttentionParams::workspace (attention_decode.cu). Head dimensions up to 256; every sum in a
// fixed order, so results are the same bits on every run.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"
#include "cuda/rope.cuh"

namespace llama_worker::kernels::cuda {

struct KvStoreParams {
  __half* k_cache = nullptr;           // (capacity, kv_heads, head_dim)
  __half* v_cache = nullptr;           // (capacity, kv_heads, head_dim)
  const float* k = nullptr;            // (tokens, kv_heads, head_dim), row stride k_stride
  const float* v = nullptr;            // (tokens, kv_heads, head_dim), row stride v_stride
  const int32_t* positions = nullptr;  // (tokens) device; each < capacity
  int64_t tokens = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t capacity = 0;  // rows of the cache
  int64_t k_stride = 0;  // 0: kv_heads * head_dim
  int64_t v_stride = 0;  // 0: kv_heads * head_dim
};

struct AttentionParams {
  float* out = nullptr;             // (q_tokens, heads, head_dim)
  const float* q = nullptr;         // (q_tokens, heads, head_dim), row stride q_stride, RoPE applied
  const __half* k_cache = nullptr;  // (capacity, kv_heads, head_dim)
  const __half* v_cache = nullptr;
  const int32_t* positions = nullptr;  // (q_tokens) absolute positions of the queries, device
  int64_t q_tokens = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;  // divides heads
  int64_t head_dim = 0;
  int64_t capacity = 0;        // cache rows; every position < capacity
  int64_t sliding_window = 0;  // 0: full causal
  int64_t q_stride = 0;        // 0: heads * head_dim
  float scale = 0.0f;          // 0: 1 / sqrt(head_dim)
  // Prefill (q_tokens > 1) on tensor cores (attention_prefill_mma.cu) where the head dimension is
  // 64, 96 or 128: Q and the softmax weights rounded to fp16, fp32 accumulation; otherwise, or with
  // false, the CUDA-core tiles (fp32 throughout).
  bool tensor_cores = false;
  // Split-KV decode: with q_tokens == 1 and a workspace of at least
  // attention_split_workspace_floats(heads, head_dim, capacity) floats, the keys are cut into
  // fixed slices of kAttentionKeysPerSplit, one block per (head, slice), and the last block of
  // each head to finish combines the head's slices in slice order: the whole GPU works on one
  // query, in one launch, deterministically. The workspace ends with one counter per head, which
  // must be zero before the first use (attention_split_workspace_reset); every launch leaves
  // them zero again.
  float* workspace = nullptr;
  int64_t workspace_floats = 0;
  // Split-KV decode with grouped-query heads (2 to 8 query heads per K/V head, head dimension 64
  // or 128): one block per K/V head and slice serves all the group's query heads, reading each
  // cache row once (attention_decode_grouped.cu). False: one block per query head and slice.
  bool grouped_decode = false;
  // Fused decode RoPE and KV store (split-KV path only; rope_table set): q is not yet rotated;
  // new_k and new_v hold the query token's K and V heads, K not yet rotated. Each block rotates
  // q by table lookup; the blocks of the slice holding the query's position use the new K and V
  // (rotated and rounded to fp16, as the cache would hold them) for that key, and the first head
  // of each K/V head group writes them to k_store / v_store at that row for the next steps.
  // Same bits as rope_f32 + the cache + this kernel unfused.
  const float2* rope_table = nullptr;  // rope_table_fill(table, capacity, rotary_dims, ...)
  int64_t rotary_dims = 0;
  RopeStyle rope_style = RopeStyle::kNormal;
  const float* new_k = nullptr;  // (kv_heads, head_dim)
  const float* new_v = nullptr;  // (kv_heads, head_dim)
  __half* k_store = nullptr;     // the caches k_cache / v_cache point into, writable
  __half* v_store = nullptr;
};

inline constexpr int64_t kAttentionKeysPerSplit = 256;

// Floats of workspace the split-KV decode path needs.
inline int64_t attention_split_workspace_floats(int64_t heads, int64_t head_dim, int64_t capacity) {
  const int64_t splits = (capacity + kAttentionKeysPerSplit - 1) / kAttentionKeysPerSplit;
  return heads * splits * (head_dim + 2) + heads;  // partials, then a counter per head
}

// Zeroes the per-head counters at the end of a freshly allocated workspace.
Status attention_split_workspace_reset(float* workspace, int64_t heads, int64_t head_dim, int64_t capacity,
                                       cudaStream_t stream);

Status kv_store(const KvStoreParams& params, cudaStream_t stream);
Status attention(const AttentionParams& params, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
