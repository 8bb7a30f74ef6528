// Gates 2 and 3, "small-width goldens on both backends": the CUDA backend against the same
// transformers goldens (golden/logits, make_logits_goldens.py) that golden_logits.* hold the CPU
// backend to — every synthetic qwen2, phi3 and llama model (Q4_K_M, Q8_0, F16; width 256) and the
// real models when they are in the cache. Needs a GPU (77 otherwise).
//
// Checks per golden, with GPU tolerances (the KV cache is fp16, so the CPU's 1e-3 absolute bound
// does not apply; these are the bounds gpu_exact_shape_tests uses between GPU and CPU):
//   - one batched prefill: per position, the NMSE of the stored logits (top-16 and 256 sampled
//     ids) against the oracle <= 1e-4, and the top-1 equals the oracle's wherever the oracle's
//     top1 - top2 margin exceeds 0.05;
//   - the greedy continuation through the KV cache (decode graph) equals the oracle's up to the
//     first step whose margin is below 0.05.
// Synthetic models come from the golden_logits fixtures (build/golden-models, SHA-256 checked
// against the golden); real ones from $LLAMA_WORKER_CACHE (skipped when absent).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "gates_common.hpp"
#include "gguf/file.hpp"
#include "model/synthetic/sha256.hpp"
#include "runtime/cuda/cuda_backend.hpp"

namespace llama_worker::gates {
namespace {

using runtime::LogitsMode;

constexpr double kTieMargin = 0.05;
constexpr double kMaxNmse = 1e-4;

std::vector<std::string> golden_names() {
  std::vector<std::string> names;
  auto text = read_file(env("LLAMA_WORKER_SOURCE_DIR") + "/golden/logits/models.json");
  if (!text) return names;
  const nlohmann::json manifest = nlohmann::json::parse(*text);
  for (const auto& model : manifest["models"]) names.push_back(model["name"].get<std::string>());
  return names;
}

std::string model_path(const std::string& name, const nlohmann::json& golden) {
  if (golden["model"].contains("cache_file")) {
    std::string cache = env("LLAMA_WORKER_CACHE");
    if (cache.empty()) cache = env("HOME") + "/.cache/llama-worker";
    return cache + "/" + golden["model"]["cache_file"].get<std::string>();
  }
  return env("LLAMA_WORKER_GOLDEN_MODELS") + "/" + name + ".gguf";
}

class GpuGoldenLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(GpuGoldenLogits, CudaBackendMatchesTheOracle) {
  const std::string name = GetParam();
  auto text = read_file(env("LLAMA_WORKER_SOURCE_DIR") + "/golden/logits/" + name + ".json");
  ASSERT_TRUE(text.has_value()) << name;
  const nlohmann::json golden = nlohmann::json::parse(*text);
  const std::string path = model_path(name, golden);
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "model file '" << path << "' is missing";
  auto digest = synthetic::sha256_file_hex(path);
  ASSERT_TRUE(digest) << digest.error().message;
  ASSERT_EQ(*digest, golden["model"]["sha256"].get<std::string>()) << path << " is not the golden's model";
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file) << file.error().message;
  runtime::cuda::CudaBackendOptions options;
  options.context = 256;
  auto backend = runtime::cuda::CudaBackend::create(*file, options);
  ASSERT_TRUE(backend) << backend.error().message;

  const auto tokens = golden["tokens"].get<std::vector<int32_t>>();
  const auto sampled_ids = golden["sampled_ids"].get<std::vector<int64_t>>();
  const int64_t vocab = golden["vocab"].get<int64_t>();
  ASSERT_EQ((*backend)->config().vocab_size, vocab);
  std::vector<float> logits;
  ASSERT_TRUE((*backend)->forward(tokens, LogitsMode::kAllPositions, logits));
  ASSERT_EQ(logits.size(), tokens.size() * static_cast<size_t>(vocab));
  double worst_nmse = 0, worst_abs = 0;
  int top1_compared = 0;
  for (size_t p = 0; p < tokens.size(); ++p) {
    const auto& expected = golden["positions"][p];
    const float* row = logits.data() + p * static_cast<size_t>(vocab);
    double error = 0, norm = 0;
    auto add = [&](int64_t id, double oracle) {
      ASSERT_TRUE(std::isfinite(row[id])) << "position " << p << " id " << id;
      error += (row[id] - oracle) * (row[id] - oracle);
      norm += oracle * oracle;
      worst_abs = std::max(worst_abs, std::fabs(row[id] - oracle));
    };
    const auto top_ids = expected["top_ids"].get<std::vector<int64_t>>();
    const auto top_logits = expected["top_logits"].get<std::vector<double>>();
    for (size_t i = 0; i < top_ids.size(); ++i) add(top_ids[i], top_logits[i]);
    const auto sampled_logits = expected["sampled_logits"].get<std::vector<double>>();
    for (size_t i = 0; i < sampled_ids.size(); ++i) add(sampled_ids[i], sampled_logits[i]);
    const double nmse = error / std::max(norm, 1e-30);
    worst_nmse = std::max(worst_nmse, nmse);
    EXPECT_LE(nmse, kMaxNmse) << name << " position " << p;
    if (expected["margin"].get<double>() > kTieMargin) {
      const int64_t ours = std::max_element(row, row + vocab) - row;
      EXPECT_EQ(ours, top_ids[0]) << name << " top-1 at position " << p << " (oracle margin "
                                  << expected["margin"] << ")";
      ++top1_compared;
    }
  }
  std::printf(
      "%s: prefill of %zu positions, worst NMSE %.3g, worst |gpu - oracle| %.3g, top-1 compared at %d\n",
      name.c_str(), tokens.size(), worst_nmse, worst_abs, top1_compared);

  const auto expected = golden["greedy"]["tokens"].get<std::vector<int32_t>>();
  const auto margins = golden["greedy"]["margins"].get<std::vector<double>>();
  (*backend)->reset();
  ASSERT_TRUE((*backend)->forward(tokens, LogitsMode::kLastPosition, logits));
  size_t step = 0;
  for (; step < expected.size() && margins[step] > kTieMargin; ++step) {
    const int32_t ours =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    ASSERT_EQ(ours, expected[step]) << name << " greedy step " << step;
    const int32_t ids[1] = {ours};
    ASSERT_TRUE((*backend)->forward(ids, LogitsMode::kLastPosition, logits));
  }
  std::printf("%s: greedy continuation equal for %zu of %zu steps (then %s)\n", name.c_str(), step,
              expected.size(), step == expected.size() ? "the end" : "a tie in the oracle");
}

INSTANTIATE_TEST_SUITE_P(Goldens, GpuGoldenLogits, ::testing::ValuesIn(golden_names()),
                         [](const ::testing::TestParamInfo<std::string>& golden) {
                           std::string id = golden.param;
                           for (char& c : id) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return id;
                         });

}  // namespace
}  // namespace llama_worker::gates
