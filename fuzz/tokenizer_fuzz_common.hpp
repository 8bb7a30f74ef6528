// Shared by the tokenizer fuzz harnesses: the four real tokenizers, loaded once from
// LLAMA_WORKER_VOCAB_DIR (or the directory compiled in as LLAMA_WORKER_FUZZ_VOCAB_DIR), and a
// check that aborts with a message (a crash is how a harness reports a finding).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gguf/file.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/tokenizer_from_gguf.hpp"

namespace llama_worker::fuzz {

inline constexpr const char* kTokenizerVocabularies[] = {"qwen2.5-0.5b-instruct", "phi-3-mini-4k-instruct",
                                                         "gpt-2", "llama-spm"};

inline const std::vector<std::unique_ptr<tokenizer::Tokenizer>>& fuzz_tokenizers() {
  static const std::vector<std::unique_ptr<tokenizer::Tokenizer>> tokenizers = [] {
    const char* env = std::getenv("LLAMA_WORKER_VOCAB_DIR");
    const std::string dir = env ? env : LLAMA_WORKER_FUZZ_VOCAB_DIR;
    std::vector<std::unique_ptr<tokenizer::Tokenizer>> loaded;
    for (const char* name : kTokenizerVocabularies) {
      const std::string path = dir + "/" + name + ".vocab.gguf";
      Result<gguf::File> file = gguf::File::open(path);
      if (!file) {
        std::fprintf(stderr, "tokenizer fuzzer: cannot open %s (set LLAMA_WORKER_VOCAB_DIR): %s\n",
                     path.c_str(), file.error().message.c_str());
        std::abort();
      }
      Result<tokenizer::Tokenizer> built = tokenizer::tokenizer_from_gguf(*file);
      if (!built) {
        std::fprintf(stderr, "tokenizer fuzzer: %s: %s\n", path.c_str(), built.error().message.c_str());
        std::abort();
      }
      loaded.push_back(std::make_unique<tokenizer::Tokenizer>(std::move(*built)));
    }
    return loaded;
  }();
  return tokenizers;
}

[[noreturn]] inline void fuzz_failure(const char* what) {
  std::fprintf(stderr, "tokenizer fuzzer: %s\n", what);
  std::abort();
}

inline void fuzz_check(bool condition, const char* what) {
  if (!condition) fuzz_failure(what);
}

}  // namespace llama_worker::fuzz
