// Gate 2, the haiku test: real instruct weights, the chat prompt "Write a haiku about a GPU."
// formatted as our chat_format does, greedy. The first 16 generated tokens must equal the greedy
// continuation transformers computes on the same file (golden/haiku/*.json, made by
// golden/haiku/make_haiku_golden.py: fp32, CPU, dequantized by the gguf package); the text is
// non-empty, valid UTF-8, and printed. Also: the prompt tokens equal the oracle's (its own Jinja
// chat template + tokenizer), the oracle's tokens decode to the oracle's text, and the output is
// identical over 3 runs (the third on a freshly loaded backend). On CUDA, every buffer is device
// memory after load and after generating.
//
// The model: $LLAMA_WORKER_HAIKU_MODEL when set (a user's own file), else the default model
// $LLAMA_WORKER_CACHE/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf (ci/fetch-*.sh). The golden
// is the file in LLAMA_WORKER_HAIKU_GOLDEN_DIR whose model.sha256 equals the file's. A missing
// model file skips (77) with a message naming it; a file without a golden fails, saying how to
// make one. Backend: $LLAMA_WORKER_HAIKU_BACKEND (auto | cpu | cuda; auto = CUDA when built with
// it and a device is present).
//
// Comparison: plain equality of the first 16 tokens (or up to and including the oracle's
// end-of-generation token when it comes earlier). The golden records every step's top1 - top2
// margin: a mismatch message says when the oracle itself had a near tie at that step.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gates_common.hpp"
#include "gguf/file.hpp"
#include "model/synthetic/sha256.hpp"
#include "runtime/chat_format.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/session.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/utf8.hpp"
#include "tokenizer/vocabulary_from_gguf.hpp"
#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
#include "cuda/device_info.hpp"
#include "runtime/cuda/cuda_backend.hpp"
#endif

namespace llama_worker::gates {
namespace {

constexpr int64_t kMaxTokens = 48;

std::string model_path() {
  if (const std::string path = env("LLAMA_WORKER_HAIKU_MODEL"); !path.empty()) return path;
  std::string cache = env("LLAMA_WORKER_CACHE");
  if (cache.empty()) cache = env("HOME") + "/.cache/llama-worker";
  return cache + "/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";
}

std::string chosen_backend() {
  std::string backend = env("LLAMA_WORKER_HAIKU_BACKEND");
  if (backend == "cpu" || backend == "cuda") return backend;
#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
  auto devices = kernels::cuda::list_devices();
  if (devices && !devices->empty()) return "cuda";
#endif
  return "cpu";
}

struct Haiku {
  std::string path, sha256, golden_path, backend, error;
  nlohmann::json golden;
  std::optional<gguf::File> file;
  std::optional<tokenizer::Tokenizer> tokenizer;
  std::string chat_template;
};

Haiku& haiku() {
  static Haiku h;
  return h;
}

Result<std::unique_ptr<runtime::InferenceBackend>> open_backend(const gguf::File& file,
                                                                const std::string& backend) {
  if (backend == "cuda") {
#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
    runtime::cuda::CudaBackendOptions options;
    options.context = 512;
    auto cuda = runtime::cuda::CudaBackend::create(file, options);
    if (!cuda) return cuda.error();
    return std::unique_ptr<runtime::InferenceBackend>(std::move(*cuda));
#else
    return make_error(ErrorCode::kUnsupported, "LLAMA_WORKER_HAIKU_BACKEND=cuda but this build has no CUDA");
#endif
  }
  runtime::CpuBackendOptions options;
  options.context = 512;
  auto cpu = runtime::CpuBackend::create(file, options);
  if (!cpu) return cpu.error();
  return std::unique_ptr<runtime::InferenceBackend>(std::move(*cpu));
}

void expect_resident([[maybe_unused]] runtime::InferenceBackend& backend, [[maybe_unused]] const char* when) {
#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
  if (auto* cuda = dynamic_cast<runtime::cuda::CudaBackend*>(&backend)) {
    auto report = cuda->check_vram_residency();
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(report->non_device.empty()) << when << ": " << report->non_device.front();
    std::printf("residency %s: %lld allocations, %lld device bytes, all device memory\n", when,
                static_cast<long long>(report->allocations), static_cast<long long>(report->device_bytes));
  }
#endif
}

runtime::GenerationOptions greedy_chat() {
  runtime::GenerationOptions options;
  options.max_tokens = kMaxTokens;
  options.sampling.temperature = 0.0f;
  options.chat = true;
  options.chat_template = haiku().chat_template;
  return options;
}

class HaikuTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Haiku& h = haiku();
    if (!h.error.empty()) return;
    if (!backend_) {
      auto backend = open_backend(*h.file, h.backend);
      if (!backend) {
        h.error = backend.error().message;
        return;
      }
      backend_ = std::move(*backend);
    }
  }
  void SetUp() override {
    ASSERT_TRUE(haiku().error.empty()) << haiku().error;
    ASSERT_NE(backend_, nullptr);
  }
  static std::unique_ptr<runtime::InferenceBackend> backend_;
  static std::vector<int32_t> first_run_;  // the haiku test's tokens and text (run 1 of 3)
  static std::string first_text_;
};
std::unique_ptr<runtime::InferenceBackend> HaikuTest::backend_;
std::vector<int32_t> HaikuTest::first_run_;
std::string HaikuTest::first_text_;

TEST_F(HaikuTest, ChatPromptTokensEqualTheOracles) {
  const Haiku& h = haiku();
  auto chat = runtime::format_chat_prompt(h.chat_template, h.golden["user_message"].get<std::string>());
  ASSERT_TRUE(chat) << chat.error().message;
  EXPECT_EQ(chat->text, h.golden["chat_text"].get<std::string>())
      << "our ChatML text differs from the model's Jinja template";
  runtime::Session session(*backend_, *h.tokenizer);
  auto tokens = session.encode_prompt(h.golden["user_message"].get<std::string>(), greedy_chat());
  ASSERT_TRUE(tokens) << tokens.error().message;
  EXPECT_EQ(*tokens, h.golden["prompt_tokens"].get<std::vector<int32_t>>());
}

TEST_F(HaikuTest, OracleTokensDecodeToTheOraclesText) {
  const Haiku& h = haiku();
  const auto tokens = h.golden["greedy"]["tokens"].get<std::vector<int32_t>>();
  tokenizer::DecodeOptions options;
  options.skip_special = true;
  auto text = h.tokenizer->decode(tokens, options);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, h.golden["greedy"]["text"].get<std::string>());
}

// Runs the haiku prompt; prints the text. Run 1 of the 3-run check is the haiku test's own run.
runtime::GenerationResult generate(runtime::InferenceBackend& backend, std::string& text, const char* label) {
  runtime::Session session(backend, *haiku().tokenizer);
  text.clear();
  auto result = session.generate(haiku().golden["user_message"].get<std::string>(), greedy_chat(),
                                 [&](std::string_view piece) { text.append(piece); });
  EXPECT_TRUE(result) << result.error().message;
  if (!result) return {};
  std::printf("--- %s (%zu tokens, stop: %s) ---\n%s\n---\n", label, result->generated_tokens.size(),
              result->stop_reason.c_str(), text.c_str());
  return std::move(*result);
}

TEST_F(HaikuTest, FirstSixteenGreedyTokensEqualTheOracleAndTheTextIsValidUtf8) {
  const Haiku& h = haiku();
  std::string text;
  const runtime::GenerationResult result = generate(*backend_, text, "haiku");
  first_run_ = result.generated_tokens;
  first_text_ = text;
  EXPECT_FALSE(text.empty());
  EXPECT_TRUE(tokenizer::validate_utf8(text)) << "the output is not valid UTF-8";
  const auto expected = h.golden["greedy"]["tokens"].get<std::vector<int32_t>>();
  const auto margins = h.golden["greedy"]["margins"].get<std::vector<double>>();
  const size_t compare = std::min<size_t>(h.golden["compare_tokens"].get<size_t>(), expected.size());
  ASSERT_GE(result.generated_tokens.size(), compare) << "generation stopped early: " << result.stop_reason;
  size_t equal = 0;
  while (equal < compare && result.generated_tokens[equal] == expected[equal]) ++equal;
  std::printf("first %zu generated tokens equal the oracle's (of %zu compared)\n", equal, compare);
  if (equal < compare) {
    ADD_FAILURE() << "token " << equal << ": ours " << result.generated_tokens[equal] << ", oracle "
                  << expected[equal] << " (oracle runner-up " << h.golden["greedy"]["runner_up"][equal]
                  << ", oracle top1 - top2 margin " << margins[equal]
                  << (margins[equal] < h.golden["min_margin"].get<double>() ? ": a near tie in the oracle)"
                                                                            : ")");
  }
  expect_resident(*backend_, "after generation");
}

TEST_F(HaikuTest, OutputIsIdenticalOverThreeRuns) {
  const Haiku& h = haiku();
  std::string first_text = first_text_, second_text, third_text;
  std::vector<int32_t> first_tokens = first_run_;
  if (first_tokens.empty()) first_tokens = generate(*backend_, first_text, "run 1").generated_tokens;
  const auto second = generate(*backend_, second_text, "run 2 (same backend)");
  auto fresh = open_backend(*h.file, h.backend);
  ASSERT_TRUE(fresh) << fresh.error().message;
  expect_resident(**fresh, "after load");
  const auto third = generate(**fresh, third_text, "run 3 (freshly loaded backend)");
  EXPECT_FALSE(first_tokens.empty());
  EXPECT_EQ(second.generated_tokens, first_tokens);
  EXPECT_EQ(third.generated_tokens, first_tokens);
  EXPECT_EQ(second_text, first_text);
  EXPECT_EQ(third_text, first_text);
}

// Finds the model file and its golden, or exits 77 naming the missing file.
void prepare() {
  Haiku& h = haiku();
  h.path = model_path();
  if (!std::filesystem::exists(h.path)) {
    std::printf(
        "SKIPPED: the haiku model file '%s' is missing: run ci/fetch-qwen2.5-coder-0.5b-instruct.sh or set "
        "LLAMA_WORKER_HAIKU_MODEL to a Qwen2.5-0.5B-Instruct (or other ChatML instruct) GGUF\n",
        h.path.c_str());
    std::exit(77);
  }
  auto digest = synthetic::sha256_file_hex(h.path);
  if (!digest) {
    h.error = digest.error().message;
    return;
  }
  h.sha256 = *digest;
  const std::string golden_dir = env("LLAMA_WORKER_HAIKU_GOLDEN_DIR");
  for (const auto& entry : std::filesystem::directory_iterator(golden_dir)) {
    if (entry.path().extension() != ".json") continue;
    auto text = read_file(entry.path().string());
    if (!text) continue;
    auto json = nlohmann::json::parse(*text, nullptr, false);
    if (!json.is_discarded() && json.contains("model") && json["model"].value("sha256", "") == h.sha256) {
      h.golden = std::move(json);
      h.golden_path = entry.path().string();
    }
  }
  if (h.golden_path.empty()) {
    h.error = "no golden in " + golden_dir + " for '" + h.path + "' (sha256 " + h.sha256 +
              "): make one with golden/haiku/make_haiku_golden.py --model '" + h.path + "'";
    return;
  }
  auto file = gguf::File::open(h.path);
  if (!file) {
    h.error = file.error().message;
    return;
  }
  h.file = std::move(*file);
  auto vocabulary = tokenizer::vocabulary_from_gguf(*h.file);
  if (!vocabulary) {
    h.error = vocabulary.error().message;
    return;
  }
  auto tok = tokenizer::Tokenizer::create(std::move(*vocabulary));
  if (!tok) {
    h.error = tok.error().message;
    return;
  }
  h.tokenizer = std::move(*tok);
  auto chat_template = h.file->get<std::string>("tokenizer.chat_template");
  if (!chat_template) {
    h.error = chat_template.error().message;
    return;
  }
  h.chat_template = *chat_template;
  h.backend = chosen_backend();
  const auto& oracle = h.golden["oracle"];
  std::printf(
      "model: %s\n  general.name '%s', sha256 %s\n  golden: %s (oracle %s %s, torch %s, gguf %s, %s %s)\n"
      "  backend: %s\n",
      h.path.c_str(), h.golden["model"].value("general_name", "").c_str(), h.sha256.c_str(),
      h.golden_path.c_str(), oracle.value("name", "").c_str(), oracle.value("transformers", "").c_str(),
      oracle.value("torch", "").c_str(), oracle.value("gguf", "").c_str(), oracle.value("dtype", "").c_str(),
      oracle.value("device", "").c_str(), h.backend.c_str());
}

}  // namespace
}  // namespace llama_worker::gates

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  llama_worker::gates::prepare();
  return RUN_ALL_TESTS();
}
