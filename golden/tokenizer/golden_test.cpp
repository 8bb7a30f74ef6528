// Our tokenizer against the Hugging Face goldens (make_goldens.py): for every corpus string and
// every vocabulary (and Qwen's vocabulary under the llama-bpe, smollm and default pre-tokenizers), the ids with special parsing off ("plain") and on ("special") and the text
// decoded from the plain ids must equal the oracle's exactly. Mismatches are listed (up to 10
// per vocabulary) with the text escaped.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/file.hpp"
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
      std::printf("SKIPPED: no vocabularies in '%s' (LLAMA_WORKER_VOCAB_DIR)\n", env("LLAMA_WORKER_VOCAB_DIR").c_str());
      std::exit(77);
    }
  }
};
const auto* const kRequireTestData = ::testing::AddGlobalTestEnvironment(new RequireTestData);

std::string escaped(const std::string& text) {
  std::string out;
  for (const char c : text.substr(0, 120)) {
    const auto byte = static_cast<uint8_t>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02X", byte);
      out += buffer;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string join(const std::vector<int32_t>& ids) {
  std::string out;
  for (const int32_t id : ids) {
    if (!out.empty()) out.push_back(' ');
    out += std::to_string(id);
  }
  return out;
}

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
    ASSERT_EQ(corpus[i], golden.at("cases")[i].at("text").get<std::string>()) << vocab << ": golden is stale at " << i;
  }

  size_t checked = 0;
  size_t failures = 0;
  const EncodeOptions plain_options{false, false};
  const EncodeOptions special_options{false, true};
  for (const nlohmann::json& item : golden.at("cases")) {
    const std::string text = item.at("text").get<std::string>();
    const auto plain = item.at("plain").get<std::vector<int32_t>>();
    const auto special = item.contains("special") ? item.at("special").get<std::vector<int32_t>>() : plain;
    const std::string decoded = item.at("decoded").get<std::string>();
    Result<std::vector<int32_t>> got_plain = tokenizer->encode(text, plain_options);
    Result<std::vector<int32_t>> got_special = tokenizer->encode(text, special_options);
    ASSERT_TRUE(got_plain && got_special) << "encode failed for '" << escaped(text) << "'";
    Result<std::string> got_decoded = tokenizer->decode(plain);
    ASSERT_TRUE(got_decoded) << got_decoded.error().message;
    ++checked;
    const bool ok = *got_plain == plain && *got_special == special && *got_decoded == decoded;
    if (!ok && ++failures <= 10) {
      ADD_FAILURE() << vocab << ": '" << escaped(text) << "'\n"
                    << "  plain    ours " << join(*got_plain) << "\n           hf   " << join(plain) << "\n"
                    << "  special  ours " << join(*got_special) << "\n           hf   " << join(special) << "\n"
                    << "  decoded  ours '" << escaped(*got_decoded) << "'\n           hf   '" << escaped(decoded) << "'";
    }
  }
  EXPECT_EQ(failures, 0u) << failures << " of " << checked << " corpus strings differ for " << vocab;
  EXPECT_GE(checked, 1000u);
}

INSTANTIATE_TEST_SUITE_P(Oracle, Golden,
                         ::testing::Values("qwen2.5-0.5b-instruct", "phi-3-mini-4k-instruct", "gpt-2", "llama-spm",
                                           "qwen2.5-0.5b-instruct@llama-bpe", "qwen2.5-0.5b-instruct@smollm",
                                           "qwen2.5-0.5b-instruct@default"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace llama_worker::tokenizer
