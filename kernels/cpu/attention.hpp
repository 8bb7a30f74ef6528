// Scaled dot-product attention, CPU reference: causal, grouped-query (GQA), optional sliding
// window. Plain loops: scores in fp32, softmax over the visible keys, weighted sum of values.
//
// Query t (absolute position q_position_offset + t) attends to key j (absolute position j, the
// KV cache starts at position 0) when
//   j <= q_position_offset + t                                  (causal)
//   and (sliding_window == 0 or (q_position_offset + t) - j < sliding_window)
// i.e. a window of W keeps the query itself and the W - 1 keys before it; this is llama.cpp's
// LLAMA_SWA_TYPE_STANDARD mask and transformers' sliding_window_causal mask.
// Query head h reads KV head h / (heads / kv_heads): consecutive query heads share a KV head,
// as in llama.cpp and transformers' repeat_kv.
#pragma once

#include <cstdint>

namespace llama_worker::kernels::cpu {

struct AttentionParams {
  float* out = nullptr;           // (q_tokens, heads, head_dim) fp32
  const float* q = nullptr;       // (q_tokens, heads, head_dim) fp32, RoPE already applied
  const float* k = nullptr;       // (kv_tokens, kv_heads, head_dim) fp32, RoPE already applied
  const float* v = nullptr;       // (kv_tokens, kv_heads, head_dim) fp32
  int64_t q_tokens = 0;           // queries in this batch
  int64_t kv_tokens = 0;          // keys/values present (>= q_position_offset + q_tokens)
  int64_t heads = 0;              // query heads
  int64_t kv_heads = 0;           // key/value heads; divides heads
  int64_t head_dim = 0;           // elements per head
  int64_t q_position_offset = 0;  // absolute position of query 0
  int64_t sliding_window = 0;     // 0: full causal attention; W > 0: see above
  float scale = 0.0f;             // score multiplier; 0 means 1 / sqrt(head_dim)
  int threads = 1;                // workers over (query, head) pairs; 0 = all cores
};

void attention_f32(const AttentionParams& params);

}  // namespace llama_worker::kernels::cpu
