// Sampler behaviour: parameter validation, non-finite logits, greedy, each truncation against a
// direct computation with std::exp, and a statistical check that sampled frequencies follow the
// softmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "sampling/sampler.hpp"

namespace llama_worker::sampling {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

SamplingParams plain(float temperature, uint64_t seed = 1) {
  SamplingParams params;
  params.temperature = temperature;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.repetition_penalty = 1.0f;
  params.seed = seed;
  return params;
}

void expect_invalid(const SamplingParams& params, const std::string& names) {
  const Status status = validate(params);
  ASSERT_FALSE(status) << names;
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find(names), std::string::npos) << status.message();
  EXPECT_FALSE(Sampler::create(params));
}

TEST(SamplingParams, DefaultsAreValid) { EXPECT_TRUE(validate(SamplingParams{})); }

TEST(SamplingParams, InvalidValuesAreClearErrors) {
  auto with = [](auto change) {
    SamplingParams params;
    change(params);
    return params;
  };
  expect_invalid(with([](auto& p) { p.temperature = kNaN; }), "temperature is NaN");
  expect_invalid(with([](auto& p) { p.temperature = -0.5f; }), "temperature is -0.5");
  expect_invalid(with([](auto& p) { p.temperature = kInf; }), "temperature");
  expect_invalid(with([](auto& p) { p.top_k = -1; }), "top-k is -1");
  expect_invalid(with([](auto& p) { p.top_p = 0.0f; }), "top-p is 0");
  expect_invalid(with([](auto& p) { p.top_p = 1.5f; }), "top-p is 1.5");
  expect_invalid(with([](auto& p) { p.top_p = kNaN; }), "top-p is NaN");
  expect_invalid(with([](auto& p) { p.min_p = kNaN; }), "min-p is NaN");
  expect_invalid(with([](auto& p) { p.min_p = -0.1f; }), "min-p");
  expect_invalid(with([](auto& p) { p.min_p = 1.1f; }), "min-p");
  expect_invalid(with([](auto& p) { p.repetition_penalty = 0.0f; }), "repetition penalty is 0");
  expect_invalid(with([](auto& p) { p.repetition_penalty = -1.0f; }), "repetition penalty");
  expect_invalid(with([](auto& p) { p.repetition_penalty = kNaN; }), "repetition penalty is NaN");
  expect_invalid(with([](auto& p) { p.repeat_last_n = -2; }), "repeat-last-n");
  EXPECT_TRUE(validate(with([](auto& p) { p.top_p = 1.0f; })));
  EXPECT_TRUE(validate(with([](auto& p) { p.min_p = 1.0f; })));
}

TEST(Sampler, NonFiniteLogitsAndBadHistoryAreErrors) {
  auto sampler = Sampler::create(plain(1.0f));
  ASSERT_TRUE(sampler);
  for (const float bad : {kNaN, kInf, -kInf}) {
    std::vector<float> logits = {0.0f, 1.0f, bad, 2.0f};
    const auto token = sampler->sample(logits);
    ASSERT_FALSE(token);
    EXPECT_NE(token.error().message.find("token 2"), std::string::npos) << token.error().message;
  }
  std::vector<float> logits = {0.0f, 1.0f};
  const std::vector<int32_t> history = {0, 5};
  EXPECT_FALSE(sampler->sample(logits, history));
  EXPECT_FALSE(sampler->sample(std::vector<float>{}));
  auto greedy = Sampler::create(plain(0.0f));
  EXPECT_FALSE(greedy->sample(std::vector<float>{1.0f, kNaN}));  // checked even when greedy
}

TEST(Sampler, GreedyTakesTheArgmaxAndTheLowestIdOnTies) {
  auto sampler = Sampler::create(plain(0.0f));
  ASSERT_TRUE(sampler);
  EXPECT_EQ(*sampler->sample(std::vector<float>{0.1f, 3.0f, -2.0f, 2.9f}), 1);
  EXPECT_EQ(*sampler->sample(std::vector<float>{0.1f, 3.0f, -2.0f, 3.0f}), 1);
  EXPECT_EQ(*sampler->sample(std::vector<float>{-5.0f, -5.0f}), 0);
}

TEST(Sampler, RepetitionPenaltyFollowsTheSignRule) {
  SamplingParams params = plain(0.0f);
  params.repetition_penalty = 2.0f;
  params.repeat_last_n = 2;
  auto sampler = Sampler::create(params);
  // Token 0 (3.0) is penalised to 1.5 < 2.0; token 2 (-1.0) would become -2.0.
  const std::vector<float> logits = {3.0f, 2.0f, -1.0f};
  EXPECT_EQ(*sampler->sample(logits, std::vector<int32_t>{0}), 1);
  // Only the last 2 history tokens count: token 0 at the front is outside the window.
  EXPECT_EQ(*sampler->sample(logits, std::vector<int32_t>{0, 1, 2}), 0);
  // A repeated id is penalised once: 3.0 / 2 = 1.5 > 1.0 (twice would give 0.75 < 1.0).
  EXPECT_EQ(*sampler->sample(std::vector<float>{3.0f, 1.0f}, std::vector<int32_t>{0, 0}), 0);
  const auto distribution = candidate_distribution(logits, params, std::vector<int32_t>{0, 1});
  ASSERT_TRUE(distribution);
  EXPECT_EQ(distribution->front().id, 0);  // 1.5 vs 1.0 vs -1.0
}

// The reference distribution computed directly: softmax(logits / T) with std::exp.
std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  double max = *std::max_element(logits.begin(), logits.end()) / temperature, total = 0.0;
  std::vector<double> p;
  for (float l : logits) p.push_back(std::exp(l / temperature - max));
  for (double x : p) total += x;
  for (double& x : p) x /= total;
  return p;
}

const std::vector<float> kLogits = {1.0f, 2.5f, -0.5f, 0.3f, 2.0f, -3.0f, 1.7f, 0.0f};

TEST(Sampler, TruncationsKeepTheRightTokens) {
  SamplingParams params = plain(1.0f);
  params.top_k = 3;
  auto top_k = candidate_distribution(kLogits, params, {});
  ASSERT_TRUE(top_k);
  ASSERT_EQ(top_k->size(), 3u);
  EXPECT_EQ((*top_k)[0].id, 1);
  EXPECT_EQ((*top_k)[1].id, 4);
  EXPECT_EQ((*top_k)[2].id, 6);
  const auto p = softmax(kLogits, 1.0);
  const double kept = p[1] + p[4] + p[6];
  EXPECT_NEAR((*top_k)[0].probability, p[1] / kept, 1e-12);

  // top-p: ordered probabilities p1 > p4 > p6 > p0 ...; keep while the mass before < top_p.
  params = plain(1.0f);
  params.top_p = static_cast<float>(p[1] + p[4] - 0.01);
  auto top_p = candidate_distribution(kLogits, params, {});
  ASSERT_EQ(top_p->size(), 2u);
  params.top_p = static_cast<float>(p[1] + p[4] + 0.001);
  EXPECT_EQ(candidate_distribution(kLogits, params, {})->size(), 3u);

  // min-p: keep p >= min_p * p_max.
  params = plain(1.0f);
  params.min_p = static_cast<float>(p[6] / p[1] - 0.001);
  EXPECT_EQ(candidate_distribution(kLogits, params, {})->size(), 3u);
  params.min_p = 1.0f;
  EXPECT_EQ(candidate_distribution(kLogits, params, {})->size(), 1u);

  // Temperature sharpens or flattens exactly as softmax(l / T).
  params = plain(0.5f);
  auto cold = candidate_distribution(kLogits, params, {});
  const auto p_cold = softmax(kLogits, 0.5);
  for (const auto& candidate : *cold) EXPECT_NEAR(candidate.probability, p_cold[candidate.id], 1e-12);
}

// Statistical check: sampled frequencies follow the softmax (Pearson chi-square, 7 degrees of
// freedom; the threshold 24.3 has p = 0.001, and the seeds are fixed, so the test is stable).
TEST(Sampler, FrequenciesFollowTheSoftmax) {
  for (const float temperature : {0.7f, 1.0f, 1.8f}) {
    auto sampler = Sampler::create(plain(temperature, 12345));
    std::vector<int> counts(kLogits.size(), 0);
    const int draws = 40000;
    for (int i = 0; i < draws; ++i) ++counts[static_cast<size_t>(*sampler->sample(kLogits))];
    const auto p = softmax(kLogits, temperature);
    double chi_square = 0.0;
    for (size_t i = 0; i < p.size(); ++i) {
      const double expected = p[i] * draws;
      chi_square += (counts[i] - expected) * (counts[i] - expected) / expected;
    }
    EXPECT_LT(chi_square, 24.3) << "temperature " << temperature;
  }
}

TEST(Sampler, SameSeedSameTokens) {
  SamplingParams params;  // defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05
  params.seed = 99;
  auto a = Sampler::create(params), b = Sampler::create(params);
  std::vector<int32_t> tokens_a, tokens_b;
  for (int i = 0; i < 200; ++i) {
    tokens_a.push_back(*a->sample(kLogits, tokens_a));
    tokens_b.push_back(*b->sample(kLogits, tokens_b));
  }
  EXPECT_EQ(tokens_a, tokens_b);
  std::map<int32_t, int> seen;
  for (int32_t t : tokens_a) ++seen[t];
  EXPECT_GT(seen.size(), 1u);  // it does sample, not argmax
}

}  // namespace
}  // namespace llama_worker::sampling
