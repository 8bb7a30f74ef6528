// SmolLM2-135M-Instruct's tokenizer against its Hugging Face golden (make_goldens.py, job
// smollm2-135m-instruct): the 1,414 corpus strings plus "extra_cases", strings with the bytes its
// vocabulary has no byte-alphabet token for (0x04 0x06 0x13 0x14 0x16 0x1D, and 0xF1/0xF2, lead
// bytes of U+40000..U+BFFFF), which Hugging Face drops. The vocabulary is read from the real model
// file (ci/fetch-smollm2-135m-instruct.sh, 98 MB, not in the repository): under
// $LLAMA_WORKER_CACHE (default ~/.cache/llama-worker)/models/. When it is not fetched (CI) the
// binary prints "SKIPPED: ..." and exits 77.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gguf/file.hpp"
#include "golden_compare.hpp"
#include "tokenizer/byte_unicode.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/tokenizer_from_gguf.hpp"

namespace llama_worker::tokenizer {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string model_path() {
  std::string cache = env("LLAMA_WORKER_CACHE");
  if (cache.empty()) cache = env("HOME") + "/.cache/llama-worker";
  return cache + "/models/smollm2-135m-instruct-q4_1.gguf";
}

class RequireModel : public ::testing::Environment {
 public:
  void SetUp() override {
    std::ifstream probe(model_path());
    if (!probe) {
      std::printf(
          "SKIPPED: SmolLM2-135M-Instruct is not fetched (%s; run ci/fetch-smollm2-135m-instruct.sh)\n",
          model_path().c_str());
      std::exit(77);
    }
  }
};
const auto* const kRequireModel = ::testing::AddGlobalTestEnvironment(new RequireModel);

const Tokenizer& smollm2() {
  static const Tokenizer* tokenizer = [] {
    Result<gguf::File> file = gguf::File::open(model_path());
    if (!file) {
      std::fprintf(stderr, "%s\n", file.error().message.c_str());
      std::abort();
    }
    Result<Tokenizer> created = tokenizer_from_gguf(*file);
    if (!created) {
      std::fprintf(stderr, "%s\n", created.error().message.c_str());
      std::abort();
    }
    return new Tokenizer(std::move(*created));
  }();
  return *tokenizer;
}

nlohmann::json read_json(const std::string& name) {
  std::ifstream in(env("LLAMA_WORKER_TOKENIZER_GOLDEN_DIR") + "/" + name);
  if (!in) return nullptr;
  return nlohmann::json::parse(in);
}

// The premise: this vocabulary lacks exactly these byte-alphabet tokens, and still loads.
TEST(SmolLM2Golden, VocabularyLacksTwentyOneByteTokens) {
  const Tokenizer& tokenizer = smollm2();
  EXPECT_EQ(tokenizer.size(), 49152);
  EXPECT_EQ(tokenizer.vocabulary().pre, "smollm");
  std::vector<int> missing;
  for (int byte = 0; byte < 256; ++byte) {
    if (tokenizer.find_token(ByteUnicodeTable::instance().utf8(static_cast<uint8_t>(byte))) == kNoToken) {
      missing.push_back(byte);
    }
  }
  const std::vector<int> expected = {0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2, 0xF5,
                                     0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF};
  EXPECT_EQ(missing, expected);
}

TEST(SmolLM2Golden, CorpusAndMissingByteStringsMatchTheOracle) {
  const nlohmann::json golden = read_json("smollm2-135m-instruct.golden.json");
  ASSERT_FALSE(golden.is_null()) << "missing smollm2-135m-instruct.golden.json";
  ASSERT_EQ(golden.at("format_version").get<int>(), 1);
  const nlohmann::json corpus = read_json("corpus.json");
  ASSERT_FALSE(corpus.is_null()) << "missing corpus.json";
  const auto texts = corpus.at("texts").get<std::vector<std::string>>();
  const nlohmann::json& cases = golden.at("cases");
  ASSERT_EQ(texts.size(), cases.size()) << "golden is stale, rerun make_goldens.py";
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_EQ(texts[i], cases[i].at("text").get<std::string>()) << "golden is stale at " << i;
  }

  const golden::CompareCounts corpus_counts = golden::compare_cases(smollm2(), cases, "smollm2 corpus");
  EXPECT_EQ(corpus_counts.failures, 0u)
      << corpus_counts.failures << " of " << corpus_counts.checked << " corpus strings differ";
  EXPECT_GE(corpus_counts.checked, 1000u);

  const nlohmann::json& extra = golden.at("extra_cases");
  const golden::CompareCounts extra_counts = golden::compare_cases(smollm2(), extra, "smollm2 missing bytes");
  EXPECT_EQ(extra_counts.failures, 0u)
      << extra_counts.failures << " of " << extra_counts.checked << " strings with missing bytes differ";
  EXPECT_GE(extra_counts.checked, 40u);
}

}  // namespace
}  // namespace llama_worker::tokenizer
