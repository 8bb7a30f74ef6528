// tokenizer::SentencePieceBpe: SentencePiece-style BPE (tokenizer.ggml.model "llama": Llama 2,
// Phi-3) for one text fragment.
//
// The fragment arrives with spaces already written as "▁" (U+2581) and the dummy prefix added.
// Symbols start as single UTF-8 characters. Repeatedly, among adjacent symbol pairs whose
// concatenation is a token, the one whose token has the highest score is merged, the leftmost
// first among equal scores (SentencePiece's bpe_model.cc order, which llama.cpp follows). At the
// end each symbol is its token; a single character that is not a token falls back to its bytes'
// <0xHH> tokens, or to UNK when the vocabulary has no byte tokens.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "tokenizer/token_index.hpp"
#include "tokenizer/vocabulary.hpp"

namespace llama_worker::tokenizer {

class SentencePieceBpe {
 public:
  // `vocabulary` must be valid and outlive this object; `index` views its tokens.
  static Result<SentencePieceBpe> create(const Vocabulary& vocabulary, const TokenIndex& index);

  // Appends the ids of an escaped fragment (valid UTF-8).
  void encode_fragment(std::string_view escaped, std::vector<int32_t>& out) const;

 private:
  const TokenIndex* index_ = nullptr;
  const std::vector<float>* scores_ = nullptr;
  std::array<int32_t, 256> byte_token_{};  // <0xHH> ids, -1 when missing
  int32_t unk_ = kNoToken;
};

}  // namespace llama_worker::tokenizer
