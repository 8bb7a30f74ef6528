// Gate 3: Phi-3 and Qwen through the same C API calls, hence the same LlamaInferenceAdapter and
// backend code (the engine has no architecture branch outside model/architecture.cpp; see
// gate3_architecture_branches_test.cpp for the source check). One test body per behaviour,
// instantiated for both models; every expectation comes from transformers (golden/logits), never
// from our own engine:
//   - load reports the architecture, shapes and vocabulary of the file;
//   - the first greedy token after every prefix of the golden prompt (cuda_inference_start_tokens,
//     max_tokens 1) equals the oracle's top-1 at that position, and the greedy continuation of the
//     whole prompt equals the oracle's, wherever the oracle's top1 - top2 margin exceeds the
//     backend's tolerance (below it the two are a numerical tie: a differing token there ends the
//     comparison);
//   - chat generation (ChatML for Qwen, Phi-3's format for Phi-3) gives valid UTF-8 pieces whose
//     concatenation is the text; the stats count the prompt and stop at the token limit or EOG;
//   - on CUDA every weight, KV and scratch buffer is device memory after generating.
// Models: gates_make_models' qwen2.gguf and phi3.gguf, byte-identical to golden/logits'
// synthetic-qwen2-q4_k_m and synthetic-phi3-q4_k_m (the SHA-256 is checked).
//
// Built twice: gate3_capi_architectures_cpu_test (LW_BACKEND_CPU, CI) and
// gpu_gate3_capi_architectures_test (LW_BACKEND_CUDA, skipped with 77 without a device).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "gates_common.hpp"
#include "llama_worker.h"
#include "model/synthetic/sha256.hpp"
#include "tokenizer/utf8.hpp"

#ifndef GATES_BACKEND_CUDA
#define GATES_BACKEND_CUDA 0
#endif

namespace llama_worker::gates {
namespace {

constexpr bool kCuda = GATES_BACKEND_CUDA != 0;
// Oracle margins below this are ties for this backend: the golden's own bound on the CPU (fp32
// throughout), a wider one on CUDA (fp16 KV cache).
const double kTieMargin = kCuda ? 0.05 : 0.004;

struct ModelCase {
  const char* model_file;   // in LLAMA_WORKER_GATES_MODELS
  const char* golden_name;  // golden/logits/<name>.json
  const char* architecture;
  const char* chat_prompt;
};

const ModelCase kModels[] = {
    {"qwen2.gguf", "synthetic-qwen2-q4_k_m", "qwen2", "Write a haiku about a GPU."},
    {"phi3.gguf", "synthetic-phi3-q4_k_m", "phi3", "Write a haiku about a GPU."},
};

class CapiArchitectures : public ::testing::TestWithParam<ModelCase> {
 protected:
  void SetUp() override {
    const ModelCase& c = GetParam();
    path_ = gate_model(c.model_file);
    auto text = read_file(env("LLAMA_WORKER_SOURCE_DIR") + "/golden/logits/" + c.golden_name + ".json");
    ASSERT_TRUE(text.has_value()) << c.golden_name;
    golden_ = nlohmann::json::parse(*text);
    auto digest = synthetic::sha256_file_hex(path_);
    ASSERT_TRUE(digest) << digest.error().message;
    ASSERT_EQ(*digest, golden_["model"]["sha256"].get<std::string>())
        << path_ << " is not the golden's model (gates_make_models and golden/logits/models.json disagree)";
    ASSERT_EQ(cuda_init(kCuda ? 0 : LW_DEVICE_CPU, &context_), LW_STATUS_OK) << cuda_last_error();
    lw_model_options options = cuda_default_model_options();
    options.backend = kCuda ? LW_BACKEND_CUDA : LW_BACKEND_CPU;
    options.context_length = 256;
    ASSERT_EQ(cuda_load_model(context_, path_.c_str(), &options, &model_), LW_STATUS_OK) << cuda_last_error();
  }
  void TearDown() override {
    if (context_ != nullptr) {
      EXPECT_EQ(cuda_free(context_), LW_STATUS_OK);
    }
  }

  // Greedy tokens after `prompt` (at most max_tokens; fewer when an end-of-generation token comes).
  std::vector<int32_t> greedy(const std::vector<int32_t>& prompt, int32_t max_tokens) {
    lw_sampling_params params = cuda_default_sampling_params();
    params.temperature = 0.0f;
    params.max_tokens = max_tokens;
    cuda_inference* inference = nullptr;
    std::vector<int32_t> tokens;
    EXPECT_EQ(cuda_inference_start_tokens(model_, prompt.data(), prompt.size(), &params, &inference),
              LW_STATUS_OK)
        << cuda_last_error();
    if (inference == nullptr) return tokens;
    for (int32_t finished = 0; !finished;) {
      int32_t token = -1;
      const char* text = nullptr;
      size_t length = 0;
      const lw_status status = cuda_inference_next_token(inference, &token, &text, &length, &finished);
      EXPECT_EQ(status, LW_STATUS_OK) << cuda_last_error();
      if (status != LW_STATUS_OK) break;
      tokens.push_back(token);
    }
    EXPECT_EQ(cuda_inference_free(inference), LW_STATUS_OK);
    return tokens;
  }

  std::string path_;
  nlohmann::json golden_;
  cuda_context* context_ = nullptr;
  cuda_model* model_ = nullptr;
};

TEST_P(CapiArchitectures, LoadReportsTheFilesArchitectureAndShapes) {
  lw_model_info info;
  ASSERT_EQ(cuda_model_get_info(model_, &info), LW_STATUS_OK) << cuda_last_error();
  EXPECT_STREQ(info.architecture, GetParam().architecture);
  EXPECT_EQ(info.vocab_size, golden_["vocab"].get<int64_t>());
  EXPECT_EQ(info.layers, 2);
  EXPECT_EQ(info.embedding_width, 256);
  EXPECT_EQ(info.context_length, 256);
  EXPECT_EQ(info.backend, kCuda ? LW_BACKEND_CUDA : LW_BACKEND_CPU);
  std::printf("%s: '%s' (%s), vocabulary %lld, eos %d\n", path_.c_str(), info.name, info.architecture,
              static_cast<long long>(info.vocab_size), info.eos_token);
}

TEST_P(CapiArchitectures, FirstGreedyTokenAfterEveryPrefixIsTheOraclesTopOne) {
  const auto tokens = golden_["tokens"].get<std::vector<int32_t>>();
  int compared = 0;
  for (size_t p = 0; p < tokens.size(); ++p) {
    const auto& position = golden_["positions"][p];
    const int32_t oracle = position["top_ids"][0].get<int32_t>();
    const double margin = position["margin"].get<double>();
    const std::vector<int32_t> prefix(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(p) + 1);
    const std::vector<int32_t> ours = greedy(prefix, 1);
    ASSERT_EQ(ours.size(), 1u);
    if (margin <= kTieMargin) {
      std::printf(
          "position %zu: oracle margin %.4g is a tie at this backend's tolerance; ours %d, oracle %d\n", p,
          margin, ours[0], oracle);
      continue;
    }
    EXPECT_EQ(ours[0], oracle) << "position " << p << ", oracle margin " << margin;
    ++compared;
  }
  std::printf("%d of %zu positions compared\n", compared, tokens.size());
  EXPECT_GE(compared, static_cast<int>(tokens.size()) / 2);
}

TEST_P(CapiArchitectures, GreedyContinuationEqualsTheOracles) {
  const auto tokens = golden_["tokens"].get<std::vector<int32_t>>();
  const auto expected = golden_["greedy"]["tokens"].get<std::vector<int32_t>>();
  const auto margins = golden_["greedy"]["margins"].get<std::vector<double>>();
  const std::vector<int32_t> ours = greedy(tokens, static_cast<int32_t>(expected.size()));
  ASSERT_FALSE(ours.empty());
  size_t step = 0;
  for (; step < expected.size() && step < ours.size(); ++step) {
    if (ours[step] == expected[step]) continue;
    if (margins[step] <= kTieMargin) break;  // a tie in the oracle: the continuations may part here
    ADD_FAILURE() << "greedy step " << step << ": ours " << ours[step] << ", oracle " << expected[step]
                  << " (margin " << margins[step] << ")";
    break;
  }
  std::printf("greedy: %zu of %zu steps equal the oracle's%s\n", step, expected.size(),
              step < expected.size() && step < ours.size() ? " (then a tie in the oracle)" : "");
}

TEST_P(CapiArchitectures, ChatGenerationGivesValidUtf8AndConsistentStats) {
  lw_sampling_params params = cuda_default_sampling_params();
  params.temperature = 0.0f;
  params.max_tokens = 16;
  params.chat = 1;
  cuda_inference* inference = nullptr;
  ASSERT_EQ(cuda_inference_start(model_, GetParam().chat_prompt, &params, &inference), LW_STATUS_OK)
      << cuda_last_error();
  std::string text;
  int64_t generated = 0;
  for (int32_t finished = 0; !finished;) {
    int32_t token = -1;
    const char* piece = nullptr;
    size_t length = 0;
    ASSERT_EQ(cuda_inference_next_token(inference, &token, &piece, &length, &finished), LW_STATUS_OK)
        << cuda_last_error();
    EXPECT_TRUE(tokenizer::validate_utf8(std::string_view(piece, length))) << "step " << generated;
    text.append(piece, length);
    ++generated;
  }
  lw_inference_stats stats;
  ASSERT_EQ(cuda_inference_get_stats(inference, &stats), LW_STATUS_OK);
  EXPECT_EQ(stats.generated_tokens, generated);
  EXPECT_GT(stats.prompt_tokens, 8);  // the chat markers around a 7-word prompt
  EXPECT_EQ(stats.finished, 1);
  EXPECT_TRUE(stats.stop_reason == LW_STOP_TOKEN_LIMIT || stats.stop_reason == LW_STOP_END_OF_GENERATION);
  std::printf("%s chat: prompt %lld tokens, %lld generated: %s\n", GetParam().architecture,
              static_cast<long long>(stats.prompt_tokens), static_cast<long long>(generated), text.c_str());
  EXPECT_EQ(cuda_inference_free(inference), LW_STATUS_OK);
  if (kCuda) {
    lw_residency_report report;
    ASSERT_EQ(cuda_check_vram_residency(model_, &report), LW_STATUS_OK) << cuda_last_error();
    EXPECT_EQ(report.ok, 1) << report.first_violation;
    EXPECT_EQ(report.non_device, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(BothArchitectures, CapiArchitectures, ::testing::ValuesIn(kModels),
                         [](const ::testing::TestParamInfo<ModelCase>& model) {
                           return std::string(model.param.architecture);
                         });

}  // namespace
}  // namespace llama_worker::gates
