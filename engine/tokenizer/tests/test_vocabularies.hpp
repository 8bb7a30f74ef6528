// Shared by the tokenizer test binaries: the real vocabularies (loaded once per process from
// LLAMA_WORKER_VOCAB_DIR) and a tiny hand-made vocabulary for validation tests. When the data is
// missing the binary prints SKIPPED and exits 77 before any test runs.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "gguf/file.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/tokenizer_from_gguf.hpp"

namespace llama_worker::tokenizer::testing {

inline std::string vocab_dir() {
  const char* dir = std::getenv("LLAMA_WORKER_VOCAB_DIR");
  return dir ? dir : "";
}

inline void require_vocabularies() {
  std::ifstream probe(vocab_dir() + "/qwen2.5-0.5b-instruct.vocab.gguf");
  if (!probe) {
    std::printf("SKIPPED: no vocabularies in '%s' (LLAMA_WORKER_VOCAB_DIR)\n", vocab_dir().c_str());
    std::exit(77);
  }
}

// "qwen2.5-0.5b-instruct", "phi-3-mini-4k-instruct", "gpt-2", "llama-spm"; aborts the test
// process with a message when the file cannot be loaded (a broken checkout, not a skip).
inline const Tokenizer& real_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot) {
    const std::string path = vocab_dir() + "/" + name + ".vocab.gguf";
    Result<gguf::File> file = gguf::File::open(path);
    if (!file) {
      std::fprintf(stderr, "cannot open %s: %s\n", path.c_str(), file.error().message.c_str());
      std::abort();
    }
    Result<Tokenizer> tokenizer = tokenizer_from_gguf(*file);
    if (!tokenizer) {
      std::fprintf(stderr, "%s\n", tokenizer.error().message.c_str());
      std::abort();
    }
    slot = std::make_unique<Tokenizer>(std::move(*tokenizer));
  }
  return *slot;
}

// A valid SentencePiece-style vocabulary of a few tokens: <unk> <s> </s>, the 256 byte tokens,
// then "▁", "a", "b", "▁a", "ab", "▁ab" with increasing scores.
inline Vocabulary tiny_sentencepiece_vocabulary() {
  Vocabulary v;
  v.model = "llama";
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.token_types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", byte);
    v.tokens.emplace_back(name);
    v.token_types.push_back(TokenType::kByte);
  }
  for (const char* text : {"\xE2\x96\x81", "a", "b",
                           "\xE2\x96\x81"
                           "a",
                           "ab",
                           "\xE2\x96\x81"
                           "ab"}) {
    v.tokens.emplace_back(text);
    v.token_types.push_back(TokenType::kNormal);
  }
  v.scores.assign(v.tokens.size(), 0.0f);
  for (size_t i = 259; i < v.tokens.size(); ++i) v.scores[i] = static_cast<float>(i) - 1000.0f;
  v.special = {1, 2, kNoToken, 0, kNoToken};
  v.add_bos = true;
  return v;
}

}  // namespace llama_worker::tokenizer::testing
