// tokenizer::ByteLevelBpe: the merge step of byte-level BPE (GPT-2, Qwen, Llama 3) for one
// pre-token piece.
//
// A piece's bytes start as the tokens of their byte-alphabet characters; then, repeatedly, the
// adjacent pair with the lowest merge rank is replaced by the merged token, the leftmost first
// among equal ranks (Hugging Face's BPE and llama.cpp agree on this order). Work is done on ids:
// merges are a PairTable (left id, right id) -> (rank, merged id), candidates a binary heap with
// lazy invalidation (an entry is stale when either side has changed since it was pushed).
// Every merge result is a token (validated), so the final symbols are the output.
//
// A vocabulary may lack some of the 256 byte-alphabet tokens (SmolLM2 has no token for 0x04,
// 0x1D, 0xF1, ...). Such a byte is dropped before merging, as Hugging Face's BPE drops an
// unknown character when the model has no unk token: its neighbours then merge as if it were not
// there. (llama.cpp also emits nothing for it, but keeps it as a symbol that blocks merges; see
// README.md.)
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "tokenizer/token_index.hpp"
#include "tokenizer/vocabulary.hpp"

namespace llama_worker::tokenizer {

class ByteLevelBpe {
 public:
  // `vocabulary` must be valid (validate_vocabulary); `index` views its tokens.
  static Result<ByteLevelBpe> create(const Vocabulary& vocabulary, const TokenIndex& index,
                                     bool ignore_merges);

  // Appends the ids of one piece of raw (not byte-alphabet) bytes.
  void encode_piece(std::string_view bytes, std::vector<int32_t>& out) const;

 private:
  struct Merge {
    int32_t rank = 0;
    int32_t merged = 0;
  };
  const TokenIndex* index_ = nullptr;
  bool ignore_merges_ = false;
  std::array<int32_t, 256> byte_token_{};  // the token of each byte's alphabet character, or kNoToken
  PairTable<Merge> merges_;
};

}  // namespace llama_worker::tokenizer
