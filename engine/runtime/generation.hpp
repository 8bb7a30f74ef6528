// Generation: one generation driven step by step, for callers that pull tokens one at a time (the
// C API's cuda_inference_next_token) instead of receiving them through Session's callback.
//
// Same pipeline and same results as Session::generate (a test checks token and text equality):
// encode prompt (Session::encode_prompt) -> prefill in chunks -> per step: forward the previous
// token, sample (sampling::Sampler with the prompt + generated history), streaming decoder with
// grapheme-cluster boundaries and special tokens skipped. An end-of-generation token ends the
// generation and prints nothing; the step that reaches max_tokens also flushes the decoder.
//
// Lifecycle:  start() / start_tokens()  validate and encode only (cheap, no backend work)
//             next()                    the first call prefills, then every call yields one token
// so that a cancel flag raised from another thread stops a long prefill (checked between prefill
// chunks and before every decode step). After a failure or cancellation the generation is over:
// next() answers kCancelled again, or the first failure's code with "the generation failed
// earlier: ...".
//
// Invariants: the backend's KV cache belongs to this generation from the first next() on (the
// caller must not run another generation on the same backend meanwhile); every step's text is
// valid UTF-8; the concatenation of all steps' text equals Tokenizer::decode of the generated
// tokens (without the end-of-generation token, specials skipped).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "runtime/backend.hpp"
#include "runtime/session.hpp"
#include "sampling/sampler.hpp"
#include "tokenizer/streaming_decoder.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llama_worker::runtime {

enum class StopReason {
  kNone,             // still running
  kEndOfGeneration,  // the model produced EOS / EOT
  kTokenLimit,       // max_tokens tokens were generated
  kCancelled,        // the cancel flag was raised
  kFailed,           // a step failed (see the failing next()'s error)
};

const char* stop_reason_name(StopReason reason);  // "end of generation token", "token limit", ...

struct GenerationStep {
  int32_t token = -1;  // the sampled id (the end-of-generation token included)
  std::string text;    // settled UTF-8 text; empty while a character or cluster is held back
  bool finished = false;
  StopReason stop_reason = StopReason::kNone;
};

class Generation {
 public:
  // Both must outlive the generation. `cancel`, when given, must too; it is only read.
  Generation(InferenceBackend& backend, const tokenizer::Tokenizer& tokenizer,
             const std::atomic<bool>* cancel = nullptr)
      : backend_(backend), tokenizer_(tokenizer), cancel_(cancel) {}

  // Checks the options (kInvalidArgument) and encodes the prompt; kOutOfRange when the prompt
  // plus max_tokens do not fit the backend's context. Nothing runs on the backend yet.
  Status start(std::string_view prompt, const GenerationOptions& options);
  // The same from token ids (kInvalidArgument for an id outside the vocabulary or an empty list).
  Status start_tokens(std::span<const int32_t> prompt_tokens, const GenerationOptions& options);

  // The next token (the first call also prefills). kOutOfRange after the generation finished.
  Result<GenerationStep> next();

  bool started() const { return started_; }
  bool finished() const { return stop_reason_ != StopReason::kNone; }
  StopReason stop_reason() const { return stop_reason_; }
  // True when the failure was a NaN or infinite logit (corrupt weights), not a backend error.
  bool failed_on_non_finite_logits() const { return non_finite_logits_; }
  const std::vector<int32_t>& prompt_tokens() const { return prompt_tokens_; }
  const std::vector<int32_t>& generated_tokens() const { return generated_tokens_; }
  double prefill_ms() const { return prefill_ms_; }
  double decode_ms() const { return decode_ms_; }

 private:
  Status check_options(const GenerationOptions& options) const;
  Status accept_prompt(std::vector<int32_t> tokens, const GenerationOptions& options);
  bool cancel_requested() const { return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed); }
  Status prefill();
  Result<GenerationStep> step();
  Error fail(Error error);

  InferenceBackend& backend_;
  const tokenizer::Tokenizer& tokenizer_;
  const std::atomic<bool>* cancel_;

  int64_t max_tokens_ = 0;
  int64_t prefill_chunk_ = 512;
  std::optional<sampling::Sampler> sampler_;
  std::optional<tokenizer::StreamingDecoder> decoder_;
  std::vector<int32_t> prompt_tokens_;
  std::vector<int32_t> generated_tokens_;
  std::vector<int32_t> history_;  // prompt + generated, for the repetition penalty
  std::vector<float> logits_;     // (vocab) of the last position
  bool started_ = false;
  bool prefilled_ = false;
  bool non_finite_logits_ = false;
  StopReason stop_reason_ = StopReason::kNone;
  std::optional<Error> failure_;  // the first failure, answered again by later next() calls
  double prefill_ms_ = 0;
  double decode_ms_ = 0;
};

}  // namespace llama_worker::runtime
