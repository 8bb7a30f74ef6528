// CPU backend invariants on tiny hand-built models of every architecture: batched prefill equals
// token-by-token decoding, weight storage and thread count do not change a bit, and context and
// vocabulary limits are clear errors. (Agreement with an independent implementation is the
// golden-logits test's job: golden/logits.)
#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "gguf/file.hpp"
#include "model/testing/tiny_model.hpp"
#include "runtime/cpu_backend.hpp"

namespace llama_worker::runtime {
namespace {

using model::testing::TinyModelSpec;

struct TinyModel {
  std::vector<uint8_t> bytes;
  std::optional<gguf::File> file;

  explicit TinyModel(const TinyModelSpec& spec) {
    auto built = model::testing::tiny_model_bytes(spec);
    EXPECT_TRUE(built) << built.error().message;
    bytes = std::move(*built);
    auto opened = gguf::File::from_bytes(bytes, "tiny.gguf");
    EXPECT_TRUE(opened) << opened.error().message;
    file.emplace(std::move(*opened));
  }
  std::unique_ptr<CpuBackend> backend(CpuBackendOptions options = {}) const {
    auto created = CpuBackend::create(*file, options);
    EXPECT_TRUE(created) << created.error().message;
    return std::move(*created);
  }
};

const std::vector<int32_t> kTokens = {3, 17, 0, 36, 5, 5, 12, 29, 1};

std::vector<float> prefill_all(CpuBackend& backend) {
  std::vector<float> logits;
  auto status = backend.forward(kTokens, LogitsMode::kAllPositions, logits);
  EXPECT_TRUE(status) << status.message();
  return logits;
}

class EveryArchitecture : public ::testing::TestWithParam<TinyModelSpec> {};

TEST_P(EveryArchitecture, PrefillEqualsTokenByTokenDecoding) {
  TinyModel model(GetParam());
  auto batched = model.backend();
  const auto all = prefill_all(*batched);
  const int64_t vocab = batched->config().vocab_size;
  ASSERT_EQ(all.size(), kTokens.size() * vocab);

  auto stepwise = model.backend();
  std::vector<float> logits;
  for (size_t t = 0; t < kTokens.size(); ++t) {
    ASSERT_TRUE(stepwise->forward(std::span(&kTokens[t], 1), LogitsMode::kLastPosition, logits));
    ASSERT_EQ(logits.size(), static_cast<size_t>(vocab));
    for (int64_t i = 0; i < vocab; ++i)
      ASSERT_EQ(logits[i], all[t * vocab + i]) << "position " << t << " id " << i;
  }
  EXPECT_EQ(stepwise->position(), static_cast<int64_t>(kTokens.size()));
}

TEST_P(EveryArchitecture, ChunkedPrefillEqualsOneBatch) {
  TinyModel model(GetParam());
  const auto all = prefill_all(*model.backend());
  auto chunked = model.backend();
  std::vector<float> first, second;
  ASSERT_TRUE(chunked->forward(std::span(kTokens).first(4), LogitsMode::kAllPositions, first));
  ASSERT_TRUE(chunked->forward(std::span(kTokens).subspan(4), LogitsMode::kLastPosition, second));
  const int64_t vocab = chunked->config().vocab_size;
  for (int64_t i = 0; i < vocab; ++i) ASSERT_EQ(second[i], all[(kTokens.size() - 1) * vocab + i]);
  for (int64_t i = 0; i < 4 * vocab; ++i) ASSERT_EQ(first[i], all[i]);
}

TEST_P(EveryArchitecture, WeightStorageAndThreadsDoNotChangeABit) {
  TinyModel model(GetParam());
  auto reference = model.backend({.threads = 1, .weights = WeightStorage::kDequantizeAtLoad});
  auto per_row = model.backend({.threads = 2, .weights = WeightStorage::kDecodePerRow});
  EXPECT_TRUE(reference->weights_dequantized());
  EXPECT_FALSE(per_row->weights_dequantized());
  EXPECT_EQ(prefill_all(*reference), prefill_all(*per_row));
}

TEST_P(EveryArchitecture, LogitsAreFiniteAndDependOnTheTokens) {
  TinyModel model(GetParam());
  auto backend = model.backend();
  const auto all = prefill_all(*backend);
  const int64_t vocab = backend->config().vocab_size;
  for (float value : all) ASSERT_TRUE(std::isfinite(value));
  // Positions 4 and 5 hold the same token; attention over different prefixes must change them.
  bool differs = false;
  for (int64_t i = 0; i < vocab; ++i) differs |= all[4 * vocab + i] != all[5 * vocab + i];
  EXPECT_TRUE(differs);
}

INSTANTIATE_TEST_SUITE_P(Cpu, EveryArchitecture,
                         ::testing::Values(model::testing::llama_spec(), model::testing::qwen2_spec(),
                                           model::testing::phi3_spec()),
                         [](const ::testing::TestParamInfo<TinyModelSpec>& param_info) {
                           return param_info.param.architecture;
                         });

TEST(CpuBackend, ContextOverflowIsAClearErrorAndAppendsNothing) {
  TinyModel model(model::testing::llama_spec());
  auto backend = model.backend({.context = 8});
  std::vector<float> logits;
  auto status = backend->forward(kTokens, LogitsMode::kLastPosition, logits);  // 9 tokens
  ASSERT_FALSE(status);
  EXPECT_EQ(status.code(), ErrorCode::kOutOfRange);
  EXPECT_NE(status.message().find("0 cached + 9 new tokens exceed the context of 8"), std::string::npos)
      << status.message();
  EXPECT_EQ(backend->position(), 0);
}

TEST(CpuBackend, ContextBeyondTheModelIsRejected) {
  TinyModel model(model::testing::llama_spec());  // context 64
  auto created = CpuBackend::create(*model.file, {.context = 65});
  ASSERT_FALSE(created);
  EXPECT_NE(created.error().message.find("exceeds the model's context length 64"), std::string::npos);
}

TEST(CpuBackend, TokenOutsideTheVocabularyIsAnError) {
  TinyModel model(model::testing::qwen2_spec());
  auto backend = model.backend();
  std::vector<float> logits;
  const std::vector<int32_t> tokens = {1, 37};
  auto status = backend->forward(tokens, LogitsMode::kLastPosition, logits);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("token id 37 at position 1"), std::string::npos) << status.message();
}

TEST(CpuBackend, SlidingWindowChangesOnlyPositionsBeyondTheWindow) {
  auto spec = model::testing::phi3_spec();  // declares a window of 7
  TinyModel model(spec);
  auto full = model.backend();
  auto windowed = model.backend({.sliding_window = true});
  std::vector<int32_t> tokens;
  for (int i = 0; i < 10; ++i) tokens.push_back((i * 7) % 37);
  std::vector<float> a, b;
  ASSERT_TRUE(full->forward(tokens, LogitsMode::kAllPositions, a));
  ASSERT_TRUE(windowed->forward(tokens, LogitsMode::kAllPositions, b));
  const int64_t vocab = 37;
  for (int64_t i = 0; i < 7 * vocab; ++i) ASSERT_EQ(a[i], b[i]);  // positions 0..6 see <= 7 keys
  bool differs = false;
  for (int64_t i = 7 * vocab; i < 10 * vocab; ++i) differs |= a[i] != b[i];
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace llama_worker::runtime
