// Pinned token sequences from golden/sampling/make_sampling_goldens.py, an independent Python
// reimplementation of the sampler's definition (its own xoshiro256**, math.exp softmax).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <bit>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "sampling/random.hpp"
#include "sampling/sampler.hpp"

namespace llama_worker::sampling {
namespace {

nlohmann::json load_golden() {
  const char* path = std::getenv("LLAMA_WORKER_SAMPLING_GOLDEN");
  std::ifstream in(path != nullptr ? path : "golden/sampling/sequences.json");
  if (!in) return nullptr;
  return nlohmann::json::parse(in, nullptr, false);
}

TEST(SamplingGolden, GeneratorMatchesReimplementation) {
  const auto golden = load_golden();
  ASSERT_TRUE(golden.is_object()) << "cannot read golden/sampling/sequences.json";
  ASSERT_EQ(golden["format_version"], 1);
  for (const auto& entry : golden["generator"]) {
    Generator generator(std::stoull(entry["seed"].get<std::string>()));
    for (const auto& value : entry["u64"])
      EXPECT_EQ(generator.next_u64(), std::stoull(value.get<std::string>()));
    for (const auto& value : entry["unit_double_bits"]) {
      EXPECT_EQ(std::bit_cast<uint64_t>(generator.next_unit_double()), std::stoull(value.get<std::string>()));
    }
  }
}

TEST(SamplingGolden, SequencesMatchReimplementation) {
  const auto golden = load_golden();
  ASSERT_TRUE(golden.is_object());
  int cases = 0;
  for (const auto& c : golden["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto& p = c["params"];
    SamplingParams params;
    params.temperature = p["temperature"].get<float>();
    params.top_k = p["top_k"].get<int32_t>();
    params.top_p = p["top_p"].get<float>();
    params.min_p = p["min_p"].get<float>();
    params.repetition_penalty = p["repetition_penalty"].get<float>();
    params.repeat_last_n = p["repeat_last_n"].get<int32_t>();
    params.seed = std::stoull(p["seed"].get<std::string>());
    auto sampler = Sampler::create(params);
    ASSERT_TRUE(sampler) << sampler.error().message;
    std::vector<int32_t> history = c["prompt"].get<std::vector<int32_t>>();
    const auto expected = c["expected_tokens"].get<std::vector<int32_t>>();
    const auto& steps = c["logits_bits"];
    ASSERT_EQ(steps.size(), expected.size());
    for (size_t step = 0; step < steps.size(); ++step) {
      std::vector<float> logits;
      for (const auto& bits : steps[step]) logits.push_back(std::bit_cast<float>(bits.get<uint32_t>()));
      const auto token = sampler->sample(logits, history);
      ASSERT_TRUE(token) << token.error().message;
      ASSERT_EQ(*token, expected[step]) << "step " << step;
      history.push_back(*token);
    }
    ++cases;
  }
  EXPECT_GE(cases, 10);
}

}  // namespace
}  // namespace llama_worker::sampling
