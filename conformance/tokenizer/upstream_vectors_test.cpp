// Upstream tokenizer vectors (llama.cpp models/ggml-vocab-*.gguf.inp/.out): every case of every
// vocabulary, encoded without BOS and without special-token parsing, must give exactly the ids
// of the .out line. Also checks that decode(encode(case)) gives the case back (NFC for Qwen).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/file.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/upstream_cases.hpp"
#include "tokenizer/utf8.hpp"
#include "tokenizer/vocabulary_from_gguf.hpp"

namespace llama_worker::tokenizer {
namespace {

std::string vocab_dir() {
  const char* dir = std::getenv("LLAMA_WORKER_VOCAB_DIR");
  return dir ? dir : "";
}

bool read(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream content;
  content << in.rdbuf();
  out = content.str();
  return true;
}

std::vector<std::string> lines_of(const std::string& content) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < content.size()) {
    size_t end = content.find('\n', begin);
    if (end == std::string::npos) end = content.size();
    lines.push_back(content.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

// Without the data the whole binary reports SKIPPED and exits 77 (CTest's skip code).
class RequireTestData : public ::testing::Environment {
 public:
  void SetUp() override {
    std::ifstream probe(vocab_dir() + "/qwen2.5-0.5b-instruct.vocab.gguf.inp");
    if (!probe) {
      std::printf("SKIPPED: no upstream vectors in '%s' (LLAMA_WORKER_VOCAB_DIR)\n", vocab_dir().c_str());
      std::exit(77);
    }
  }
};
const auto* const kRequireTestData = ::testing::AddGlobalTestEnvironment(new RequireTestData);

class UpstreamVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(UpstreamVectors, EveryCaseMatchesTheOutFile) {
  const std::string base = vocab_dir() + "/" + GetParam() + ".vocab.gguf";
  std::string inp, out;
  ASSERT_TRUE(read(base + ".inp", inp) && read(base + ".out", out)) << "missing " << base << ".inp/.out";

  Result<gguf::File> file = gguf::File::open(base);
  ASSERT_TRUE(file) << file.error().message;
  Result<Vocabulary> vocabulary = vocabulary_from_gguf(*file);
  ASSERT_TRUE(vocabulary) << vocabulary.error().message;
  Result<Tokenizer> tokenizer = Tokenizer::create(std::move(*vocabulary));
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;

  Result<std::vector<std::string>> cases = parse_upstream_cases(inp);
  ASSERT_TRUE(cases) << cases.error().message;
  const std::vector<std::string> expected = lines_of(out);
  ASSERT_EQ(cases->size(), expected.size());
  const bool nfc = tokenizer->vocabulary().pre == "qwen2";
  for (size_t i = 0; i < cases->size(); ++i) {
    const std::string& text = (*cases)[i];
    Result<std::vector<int32_t>> ids = tokenizer->encode(text);
    ASSERT_TRUE(ids) << ids.error().message;
    EXPECT_EQ(format_upstream_ids(*ids), expected[i]) << "case " << i + 1 << ": '" << text << "'";
    Result<std::string> decoded = tokenizer->decode(*ids);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(*decoded, nfc ? *nfc_normalize(text) : text) << "round trip of case " << i + 1;
  }
}

INSTANTIATE_TEST_SUITE_P(AllVocabularies, UpstreamVectors,
                         ::testing::Values("qwen2.5-0.5b-instruct", "phi-3-mini-4k-instruct", "gpt-2",
                                           "llama-spm"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace llama_worker::tokenizer
