// Session end to end on a synthetic qwen2 model with the real Qwen2.5 vocabulary (made by the
// golden_logits.mkmodel fixture; path in argv[1] after the gtest flags): seeded sampling is
// reproducible, the streamed text equals the tokenizer's decode of the generated ids, and the
// context check runs before anything else.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "gguf/file.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/session.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/tokenizer_from_gguf.hpp"

namespace llama_worker::runtime {
namespace {

std::string g_model_path;

class SessionOnSyntheticModel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(g_model_path)) GTEST_SKIP() << "model " << g_model_path << " missing";
    auto file = gguf::File::open(g_model_path);
    ASSERT_TRUE(file) << file.error().message;
    file_.emplace(std::move(*file));
    auto created = tokenizer::tokenizer_from_gguf(*file_);
    ASSERT_TRUE(created) << created.error().message;
    tokenizer_.emplace(std::move(*created));
    auto backend = CpuBackend::create(*file_, {.context = 64});
    ASSERT_TRUE(backend) << backend.error().message;
    backend_ = std::move(*backend);
  }

  Result<GenerationResult> run(const GenerationOptions& options, std::string* streamed) {
    Session session(*backend_, *tokenizer_);
    return session.generate("Hello, world", options, [&](std::string_view text) { streamed->append(text); });
  }

  std::optional<gguf::File> file_;
  std::optional<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<CpuBackend> backend_;
};

GenerationOptions sampled(uint64_t seed) {
  GenerationOptions options;
  options.max_tokens = 12;
  options.sampling.temperature = 1.0f;
  options.sampling.top_k = 0;
  options.sampling.top_p = 1.0f;
  options.sampling.min_p = 0.0f;
  options.sampling.seed = seed;
  return options;
}

TEST_F(SessionOnSyntheticModel, SameSeedSameTokensAndStreamEqualsDecode) {
  std::string first_text, second_text, other_text;
  auto first = run(sampled(11), &first_text);
  auto second = run(sampled(11), &second_text);
  auto other = run(sampled(12), &other_text);
  ASSERT_TRUE(first && second && other);
  EXPECT_EQ(first->generated_tokens, second->generated_tokens);
  EXPECT_EQ(first_text, second_text);
  EXPECT_NE(first->generated_tokens, other->generated_tokens);  // 12 draws over 151,936 tokens
  auto decoded =
      tokenizer_->decode(first->generated_tokens, {.skip_special = true, .strip_dummy_prefix = false});
  ASSERT_TRUE(decoded);
  EXPECT_EQ(first_text, *decoded);
}

TEST_F(SessionOnSyntheticModel, GreedyEqualsArgmaxOfTheBackend) {
  GenerationOptions options;
  options.max_tokens = 5;
  options.sampling.temperature = 0.0f;
  std::string text;
  auto result = run(options, &text);
  ASSERT_TRUE(result);
  // Replay: prompt, then each generated token, through a fresh forward; each must be the argmax.
  backend_->reset();
  std::vector<float> logits;
  ASSERT_TRUE(backend_->forward(result->prompt_tokens, LogitsMode::kLastPosition, logits));
  for (int32_t token : result->generated_tokens) {
    int64_t best = 0;
    for (size_t i = 1; i < logits.size(); ++i)
      best = logits[i] > logits[best] ? static_cast<int64_t>(i) : best;
    ASSERT_EQ(token, best);
    ASSERT_TRUE(backend_->forward(std::span(&token, 1), LogitsMode::kLastPosition, logits));
  }
}

TEST_F(SessionOnSyntheticModel, PromptPlusTokensBeyondTheContextFailsFirst) {
  GenerationOptions options;
  options.max_tokens = 62;  // the prompt ("Hello", ",", " world") is 3 tokens, the context 64
  std::string text;
  auto result = run(options, &text);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(result.error().message.find("exceed the context of 64 positions"), std::string::npos);
  EXPECT_TRUE(text.empty());
}

}  // namespace
}  // namespace llama_worker::runtime

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: session_tests MODEL.gguf\n");
    return 2;
  }
  llama_worker::runtime::g_model_path = argv[1];
  if (!std::filesystem::exists(argv[1])) {
    std::printf("SKIPPED: %s is missing (made by a golden_logits.mkmodel fixture; needs the shared data)\n",
                argv[1]);
    return 77;
  }
  return RUN_ALL_TESTS();
}
