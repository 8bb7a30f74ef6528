// Rotary position embedding (RoPE), CPU reference, in place, in the two layouts ggml defines.
//
// For a token at absolute position p and a pair index i in [0, rotary_dims / 2):
//   theta_i = p * freq_scale * freq_base^(-2 i / rotary_dims)
//   (a, b) <- (a cos theta_i - b sin theta_i,  a sin theta_i + b cos theta_i)
// where the pair (a, b) is
//   kNormal: (x[2 i], x[2 i + 1])                         adjacent elements (llama.cpp ROPE_TYPE_NORM,
//                                                         used for architecture llama; its GGUF
//                                                         converter permutes Q/K rows to fit it)
//   kNeox:   (x[i], x[i + rotary_dims / 2])               halves (ROPE_TYPE_NEOX, transformers'
//                                                         rotate_half; qwen2 and phi3)
// Elements at index >= rotary_dims pass through unchanged (partial rotary). Angles are computed
// in double and rounded once, so the reference does not drift with position.
#pragma once

#include <cstdint>

namespace llama_worker::kernels::cpu {

enum class RopeStyle { kNormal, kNeox };

struct RopeParams {
  float* x = nullptr;           // (tokens, heads, head_dim) fp32, rotated in place
  int64_t tokens = 0;           // rows; token t has absolute position position_offset + t
  int64_t heads = 0;            // heads per token (query heads or KV heads)
  int64_t head_dim = 0;         // elements per head
  int64_t rotary_dims = 0;      // leading elements of each head that rotate; even, <= head_dim
  int64_t position_offset = 0;  // absolute position of token 0 (tokens already in the KV cache)
  float freq_base = 10000.0f;   // GGUF <arch>.rope.freq_base
  float freq_scale = 1.0f;      // linear position scaling (1 = none)
  RopeStyle style = RopeStyle::kNormal;
};

void rope_f32(const RopeParams& params);

}  // namespace llama_worker::kernels::cpu
