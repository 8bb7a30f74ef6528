// Attention against a double-precision implementation written the transformers way: KV heads
// expanded with repeat_kv, a full (query x key) mask matrix, softmax, weighted sum.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cpu/attention.hpp"
#include "test_util.hpp"

namespace llama_worker::kernels::cpu {
namespace {

using testing::poisoned;
using testing::random_floats;

struct Shape {
  int64_t q_tokens, kv_tokens, heads, kv_heads, head_dim, offset, window;
};

std::vector<double> expected_attention(const Shape& s, const std::vector<float>& q,
                                       const std::vector<float>& k, const std::vector<float>& v) {
  const int64_t repeat = s.heads / s.kv_heads;
  std::vector<double> out(static_cast<size_t>(s.q_tokens * s.heads * s.head_dim), 0.0);
  for (int64_t h = 0; h < s.heads; ++h) {
    const int64_t kvh = h / repeat;  // repeat_kv: head h sees KV head floor(h / repeat)
    for (int64_t t = 0; t < s.q_tokens; ++t) {
      const int64_t qpos = s.offset + t;
      std::vector<double> p(static_cast<size_t>(s.kv_tokens));
      double maximum = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < s.kv_tokens; ++j) {
        bool allowed = j <= qpos;
        if (s.window > 0 && j <= qpos - s.window) allowed = false;
        double score = -std::numeric_limits<double>::infinity();
        if (allowed) {
          score = 0;
          for (int64_t d = 0; d < s.head_dim; ++d)
            score +=
                double(q[(t * s.heads + h) * s.head_dim + d]) * k[(j * s.kv_heads + kvh) * s.head_dim + d];
          score /= std::sqrt(double(s.head_dim));
        }
        p[j] = score;
        maximum = std::max(maximum, score);
      }
      double sum = 0;
      for (auto& x : p) sum += (x = std::exp(x - maximum));
      for (int64_t j = 0; j < s.kv_tokens; ++j)
        for (int64_t d = 0; d < s.head_dim; ++d)
          out[(t * s.heads + h) * s.head_dim + d] += p[j] / sum * v[(j * s.kv_heads + kvh) * s.head_dim + d];
    }
  }
  return out;
}

void check(const Shape& s, int threads) {
  auto q = random_floats(s.q_tokens * s.heads * s.head_dim, 11, 2.0f);
  auto k = random_floats(s.kv_tokens * s.kv_heads * s.head_dim, 12, 2.0f);
  auto v = random_floats(s.kv_tokens * s.kv_heads * s.head_dim, 13);
  auto out = poisoned(s.q_tokens * s.heads * s.head_dim);
  attention_f32({.out = out.data(),
                 .q = q.data(),
                 .k = k.data(),
                 .v = v.data(),
                 .q_tokens = s.q_tokens,
                 .kv_tokens = s.kv_tokens,
                 .heads = s.heads,
                 .kv_heads = s.kv_heads,
                 .head_dim = s.head_dim,
                 .q_position_offset = s.offset,
                 .sliding_window = s.window,
                 .threads = threads});
  const auto expected = expected_attention(s, q, k, v);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], expected[i], 2e-5) << "element " << i;
}

TEST(Attention, CausalMultiHeadPrefill) { check({9, 9, 3, 3, 16, 0, 0}, 1); }
TEST(Attention, GroupedQueryHeadsShareKvHeads) { check({7, 7, 14, 2, 8, 0, 0}, 2); }
TEST(Attention, DecodeStepWithOffsetSeesTheWholeCache) { check({1, 13, 4, 2, 12, 12, 0}, 2); }
TEST(Attention, ChunkedPrefillAfterCachedTokens) { check({5, 11, 6, 3, 10, 6, 0}, 1); }
TEST(Attention, SlidingWindowDropsOldKeys) { check({12, 12, 4, 1, 8, 0, 4}, 2); }
TEST(Attention, SlidingWindowWithOffset) { check({3, 20, 2, 2, 8, 17, 5}, 1); }

TEST(Attention, WindowOfOneReturnsTheTokensOwnValue) {
  const Shape s{6, 6, 2, 1, 4, 0, 1};
  auto q = random_floats(6 * 2 * 4, 1), k = random_floats(6 * 4, 2), v = random_floats(6 * 4, 3);
  auto out = poisoned(6 * 2 * 4);
  attention_f32({.out = out.data(),
                 .q = q.data(),
                 .k = k.data(),
                 .v = v.data(),
                 .q_tokens = s.q_tokens,
                 .kv_tokens = s.kv_tokens,
                 .heads = s.heads,
                 .kv_heads = s.kv_heads,
                 .head_dim = s.head_dim,
                 .sliding_window = 1});
  for (int64_t t = 0; t < 6; ++t)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t d = 0; d < 4; ++d) EXPECT_FLOAT_EQ(out[(t * 2 + h) * 4 + d], v[t * 4 + d]);
}

TEST(Attention, ResultDoesNotDependOnThreadCount) {
  const int64_t n = 10 * 4 * 8;
  auto q = random_floats(n, 1), k = random_floats(10 * 2 * 8, 2), v = random_floats(10 * 2 * 8, 3);
  auto one = poisoned(n), two = poisoned(n);
  AttentionParams p{.q = q.data(),
                    .k = k.data(),
                    .v = v.data(),
                    .q_tokens = 10,
                    .kv_tokens = 10,
                    .heads = 4,
                    .kv_heads = 2,
                    .head_dim = 8};
  p.out = one.data();
  p.threads = 1;
  attention_f32(p);
  p.out = two.data();
  p.threads = 2;
  attention_f32(p);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(one[i], two[i]);
}

}  // namespace
}  // namespace llama_worker::kernels::cpu
