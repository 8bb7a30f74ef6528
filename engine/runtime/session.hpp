// Session: one generation on a backend. encode prompt -> prefill (batched, in chunks) -> decode
// loop (logits -> sampler -> token) -> streaming decoder (never emits a broken UTF-8 sequence).
//
// Context: the prompt plus max_tokens must fit the backend's KV cache; otherwise generate() fails
// before running anything (kOutOfRange, naming the three numbers). Generation stops at an
// end-of-generation token (EOS/EOT, not printed) or after max_tokens.
// Same backend, prompt, options and seed: the same tokens, run after run.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "runtime/backend.hpp"
#include "sampling/sampling_params.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llama_worker::runtime {

struct GenerationOptions {
  int64_t max_tokens = 64;            // tokens to generate at most (>= 0)
  sampling::SamplingParams sampling;  // temperature 0 = greedy
  bool chat = false;                  // wrap the prompt in the model's chat format
  std::string chat_template;          // tokenizer.chat_template (needed when chat)
  int64_t prefill_chunk = 512;        // prompt tokens per forward() call
};

struct GenerationResult {
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> generated_tokens;  // including a final end-of-generation token, if any
  std::string stop_reason;                // "end of generation token" or "token limit"
  double prefill_ms = 0;
  double decode_ms = 0;
};

class Session {
 public:
  // Both must outlive the session.
  Session(InferenceBackend& backend, const tokenizer::Tokenizer& tokenizer)
      : backend_(backend), tokenizer_(tokenizer) {}

  // Resets the backend's KV cache, then generates. on_text receives settled UTF-8 text as it
  // becomes available (the streaming decoder's output).
  Result<GenerationResult> generate(std::string_view prompt, const GenerationOptions& options,
                                    const std::function<void(std::string_view)>& on_text);

  // The token ids the prompt becomes (BOS as the vocabulary says; special tokens parsed in chat mode).
  Result<std::vector<int32_t>> encode_prompt(std::string_view prompt, const GenerationOptions& options) const;

 private:
  InferenceBackend& backend_;
  const tokenizer::Tokenizer& tokenizer_;
};

}  // namespace llama_worker::runtime
