#include "cpu/attention.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "cpu/parallel.hpp"
#include "cpu/softmax.hpp"

namespace llama_worker::kernels::cpu {

void attention_f32(const AttentionParams& p) {
  const float scale = p.scale != 0.0f ? p.scale : 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  const int64_t group = p.heads / p.kv_heads;  // query heads per KV head
  const int64_t q_stride = p.heads * p.head_dim;
  const int64_t kv_stride = p.kv_heads * p.head_dim;

  parallel_for(p.q_tokens * p.heads, p.threads, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(p.kv_tokens));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / p.heads;
      const int64_t h = item % p.heads;
      const int64_t kv_head = h / group;
      const int64_t position = p.q_position_offset + t;
      const float* query = p.q + t * q_stride + h * p.head_dim;

      // Scores of the visible keys; everything else is -inf (weight exactly 0 after softmax).
      for (int64_t j = 0; j < p.kv_tokens; ++j) {
        const bool causal = j <= position;
        const bool in_window = p.sliding_window == 0 || position - j < p.sliding_window;
        if (!causal || !in_window) {
          scores[static_cast<size_t>(j)] = -std::numeric_limits<float>::infinity();
          continue;
        }
        const float* key = p.k + j * kv_stride + kv_head * p.head_dim;
        float dot = 0.0f;
        for (int64_t d = 0; d < p.head_dim; ++d) dot += query[d] * key[d];
        scores[static_cast<size_t>(j)] = dot * scale;
      }
      softmax_f32(scores.data(), 1, p.kv_tokens);

      float* out = p.out + t * q_stride + h * p.head_dim;
      for (int64_t d = 0; d < p.head_dim; ++d) out[d] = 0.0f;
      for (int64_t j = 0; j < p.kv_tokens; ++j) {
        const float weight = scores[static_cast<size_t>(j)];
        if (weight == 0.0f) continue;
        const float* value = p.v + j * kv_stride + kv_head * p.head_dim;
        for (int64_t d = 0; d < p.head_dim; ++d) out[d] += weight * value[d];
      }
    }
  });
}

}  // namespace llama_worker::kernels::cpu
