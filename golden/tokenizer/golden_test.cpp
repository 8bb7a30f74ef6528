// Our tokenizer against the Hugging Face goldens (make_goldens.py): for every corpus string and
// every vocabulary (and Qwen's vocabulary under the llama-bpe, smollm and default
// pre-tokenizers), the ids with special parsing off ("plain") and on ("special") and the text
// decoded from the plain ids must equal the oracle's exactly (golden_compare.hpp). Mismatches are
// listed (up to 10 per vocabulary) with the text escaped. The SmolLM2 golden, made from a model
// file CI does not have, is checked by smollm2_golden_test.cpp.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gguf/file.hpp"
#include "golden_compare.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/vocabulary_from_gguf.hpp"

namespace llama_worker::tokenizer {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

class RequireTestData : public ::testing::Environment {
 public:
  void SetUp() override {
    std::ifstream probe(env("LLAMA_WORKER_VOCAB_DIR") + "/qwen2.5-0.5b-instruct.vocab.gguf");
    if (!probe) {
      std::printf("SKIPPED: no vocabularies in '%s' (LLAMA_WORKER_VOCAB_DIR)\n",
                  env("LLAMA_WORKER_VOCAB_DIR").c_str());
      std::exit(77);
    }
  }
};
const auto* const kRequireTestData = ::testing::AddGlobalTestEnvironment(new RequireTestData);

class Golden : public ::testing::TestWithParam<const char*> {};

TEST_P(Golden, EveryCorpusStringMatchesTheOracle) {
  const std::string vocab = GetParam();
  std::ifstream in(env("LLAMA_WORKER_TOKENIZER_GOLDEN_DIR") + "/" + vocab + ".golden.json");
  ASSERT_TRUE(in) << "missing golden for " << vocab;
  const nlohmann::json golden = nlohmann::json::parse(in);
  ASSERT_EQ(golden.at("format_version").get<int>(), 1);

  // "qwen2.5-0.5b-instruct@smollm": Qwen's vocabulary run with another pre-tokenizer.
  const size_t at = vocab.find('@');
  const std::string file_name = vocab.substr(0, at);
  Result<gguf::File> file = gguf::File::open(env("LLAMA_WORKER_VOCAB_DIR") + "/" + file_name + ".vocab.gguf");
  ASSERT_TRUE(file) << file.error().message;
  Result<Vocabulary> vocabulary = vocabulary_from_gguf(*file);
  ASSERT_TRUE(vocabulary) << vocabulary.error().message;
  if (at != std::string::npos) vocabulary->pre = vocab.substr(at + 1);
  Result<Tokenizer> tokenizer = Tokenizer::create(std::move(*vocabulary));
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;

  // A golden made from an older corpus is stale: regenerate with make_goldens.py.
  std::ifstream corpus_file(env("LLAMA_WORKER_TOKENIZER_GOLDEN_DIR") + "/corpus.json");
  ASSERT_TRUE(corpus_file) << "missing corpus.json";
  const auto corpus = nlohmann::json::parse(corpus_file).at("texts").get<std::vector<std::string>>();
  ASSERT_EQ(corpus.size(), golden.at("cases").size()) << vocab << ": golden is stale, rerun make_goldens.py";
  for (size_t i = 0; i < corpus.size(); ++i) {
    ASSERT_EQ(corpus[i], golden.at("cases")[i].at("text").get<std::string>())
        << vocab << ": golden is stale at " << i;
  }

  const golden::CompareCounts counts = golden::compare_cases(*tokenizer, golden.at("cases"), vocab);
  EXPECT_EQ(counts.failures, 0u) << counts.failures << " of " << counts.checked
                                 << " corpus strings differ for " << vocab;
  EXPECT_GE(counts.checked, 1000u);
}

INSTANTIATE_TEST_SUITE_P(Oracle, Golden,
                         ::testing::Values("qwen2.5-0.5b-instruct", "phi-3-mini-4k-instruct", "gpt-2",
                                           "llama-spm", "qwen2.5-0.5b-instruct@llama-bpe",
                                           "qwen2.5-0.5b-instruct@smollm", "qwen2.5-0.5b-instruct@default"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace llama_worker::tokenizer
