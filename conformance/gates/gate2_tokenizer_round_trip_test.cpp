// Gate 2: tokenization round trip on the model's own vocabulary. For every text of the tokenizer
// corpus (golden/tokenizer/corpus.json: many scripts, emoji, white space, code) plus the haiku
// chat prompt: decode(encode(text)) == NFC(text) (Qwen's pre-tokenizer normalizes to NFC), with
// special-token parsing off and on. Vocabularies: Qwen2.5-0.5B-Instruct's (committed under
// conformance/data/vocab) always; the real model file's (the haiku model, see
// gate2_haiku_test.cpp) when it is present, else that case is skipped with the file named.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gates_common.hpp"
#include "gguf/file.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/utf8.hpp"
#include "tokenizer/vocabulary_from_gguf.hpp"

namespace llama_worker::gates {
namespace {

std::vector<std::string> corpus() {
  std::vector<std::string> texts;
  auto text = read_file(env("LLAMA_WORKER_SOURCE_DIR") + "/golden/tokenizer/corpus.json");
  EXPECT_TRUE(text.has_value()) << "golden/tokenizer/corpus.json is missing";
  if (!text) return texts;
  const nlohmann::json json = nlohmann::json::parse(*text);
  for (const auto& entry : json["texts"]) texts.push_back(entry.get<std::string>());
  texts.push_back(
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
      "<|im_start|>user\nWrite a haiku about a GPU.<|im_end|>\n<|im_start|>assistant\n");
  texts.push_back("GPU's light,\nA world of computation,\nA place where data resides.");
  return texts;
}

void check_round_trip(const std::string& path) {
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file) << file.error().message;
  auto vocabulary = tokenizer::vocabulary_from_gguf(*file);
  ASSERT_TRUE(vocabulary) << vocabulary.error().message;
  auto tok = tokenizer::Tokenizer::create(std::move(*vocabulary));
  ASSERT_TRUE(tok) << tok.error().message;
  const std::vector<std::string> texts = corpus();
  ASSERT_GT(texts.size(), 10u);
  size_t checked = 0, tokens = 0;
  for (const bool parse_special : {false, true}) {
    for (const std::string& text : texts) {
      tokenizer::EncodeOptions options;
      options.parse_special = parse_special;
      auto ids = tok->encode(text, options);
      ASSERT_TRUE(ids) << ids.error().message;
      auto decoded = tok->decode(*ids);
      ASSERT_TRUE(decoded) << decoded.error().message;
      auto expected = tokenizer::nfc_normalize(text);
      ASSERT_TRUE(expected) << expected.error().message;
      EXPECT_EQ(*decoded, *expected) << "parse_special " << parse_special << ", text: " << text;
      ++checked;
      tokens += ids->size();
    }
  }
  std::printf("%s: %zu round trips (%zu tokens), vocabulary of %d tokens\n", path.c_str(), checked, tokens,
              tok->size());
}

TEST(Gate2TokenizerRoundTrip, Qwen25HalfBillionInstructVocabulary) {
  check_round_trip(env("LLAMA_WORKER_VOCAB_DIR") + "/qwen2.5-0.5b-instruct.vocab.gguf");
}

TEST(Gate2TokenizerRoundTrip, TheHaikuModelsOwnVocabulary) {
  std::string path = env("LLAMA_WORKER_HAIKU_MODEL");
  if (path.empty()) {
    std::string cache = env("LLAMA_WORKER_CACHE");
    if (cache.empty()) cache = env("HOME") + "/.cache/llama-worker";
    path = cache + "/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";
  }
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "the haiku model file '" << path << "' is missing";
  check_round_trip(path);
}

}  // namespace
}  // namespace llama_worker::gates
