// The interface a Session drives: a model loaded on some device, with its KV cache. The CPU
// backend (cpu_backend.hpp) is the reference; the CUDA backend implements the same interface.
//
// forward() appends tokens at positions [position(), position() + tokens.size()) to the KV cache
// and returns logits; a batch of several tokens is a (batched) prefill, one token a decode step.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.hpp"
#include "model/config.hpp"

namespace llama_worker::runtime {

enum class LogitsMode {
  kLastPosition,  // logits of the last token of the batch: (vocab)
  kAllPositions,  // logits of every token of the batch: (tokens, vocab), row-major
};

class InferenceBackend {
 public:
  virtual ~InferenceBackend() = default;

  virtual const model::ModelConfig& config() const = 0;
  // Positions the KV cache can hold (<= the model's context length).
  virtual int64_t context_capacity() const = 0;
  // Tokens already in the KV cache: the position of the next token.
  virtual int64_t position() const = 0;
  // Empties the KV cache.
  virtual void reset() = 0;
  // Runs the model on `tokens` after the cached ones. kOutOfRange when they do not fit the
  // context (nothing is appended then); kInvalidArgument for a token id outside the vocabulary.
  virtual Status forward(std::span<const int32_t> tokens, LogitsMode mode, std::vector<float>& logits) = 0;
};

}  // namespace llama_worker::runtime
