// The C API tests' model: the tiny phi3 model of model/testing/tiny_model.hpp (F32, seeded random
// weights: fused qkv and gate/up) with the real Phi-3-mini vocabulary (SentencePiece with byte
// fallback, 32,064 tokens, <|end|> as EOT, the Phi-3 chat template) copied from
// conformance/data/vocab/phi-3-mini-4k-instruct.vocab.gguf, so prompts tokenize as they would on
// the real model and multi-byte characters split across byte-fallback tokens.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.hpp"

namespace llama_worker::capi::testing {

struct TestModelOptions {
  int64_t context = 256;  // <arch>.context_length
  int64_t layers = 2;
  std::string architecture = "phi3";  // written as is: anything else makes an unsupported model
  bool with_tokenizer = true;         // false: no tokenizer.* keys (a malformed model for the C API)
  bool corrupt_weights = false;       // output_norm.weight all NaN: every logit is NaN
  int64_t embd = 0;                   // 0: the tiny spec's width (24: heads of 6)
  int64_t ff = 0;                     // 0: the tiny spec's feed-forward width (40)
};

// "<LLAMA_WORKER_SHARED_DATA_DIR>/vocab/phi-3-mini-4k-instruct.vocab.gguf"; empty when the
// environment variable is unset.
std::string phi3_vocabulary_path();

// Writes the model to `path`. kNotFound when the vocabulary file is missing.
Status write_test_model(const std::string& vocabulary_path, const std::string& path,
                        const TestModelOptions& options = {});

}  // namespace llama_worker::capi::testing
