// tokenizer::Tokenizer: text <-> token ids for a Vocabulary (byte-level BPE or
// SentencePiece-style BPE), with special/added tokens, decoding and a piece table for streaming.
//
// encode(text):
//   1. the text must be valid UTF-8 (else kInvalidArgument naming the byte offset);
//   2. added tokens are cut out of the text first, leftmost-longest match wins (Hugging Face's
//      AddedVocabulary): user-defined tokens always, control and unknown-type tokens only with
//      parse_special; a token listed in rstrip_ids also swallows the white space after it;
//   3. every text fragment between them is encoded on its own:
//        byte-level BPE: NFC when the pre-tokenizer says so (Qwen), regex split, byte-level
//                        merges per piece;
//        SentencePiece:  a dummy-prefix space when the fragment opens the text or follows an
//                        added token (add_space_prefix), spaces written as "▁", score merges
//                        with byte fallback;
//   4. with add_special, BOS / EOS as the vocabulary's add_bos / add_eos say.
//
// decode(ids): the concatenated bytes of each token's piece (byte-level: the byte alphabet
// reversed; SentencePiece: "▁" -> " ", <0xHH> -> the byte; control and added tokens: their text,
// unless skip_special), with ill-formed UTF-8 replaced by U+FFFD (maximal subparts). For a
// SentencePiece vocabulary with a dummy prefix, one leading space is removed from the first
// token's piece (so decode(encode(s)) == s). Ids out of range are kInvalidArgument.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "tokenizer/vocabulary.hpp"

namespace llama_worker::tokenizer {

struct EncodeOptions {
  bool add_special = false;    // BOS/EOS per the vocabulary's add_bos/add_eos
  bool parse_special = false;  // match control (and unknown-type) tokens' text in the input
};

struct DecodeOptions {
  bool skip_special = false;       // control and unknown-type tokens produce no text
  bool strip_dummy_prefix = true;  // SentencePiece: drop the leading space of the first token
};

class Tokenizer {
 public:
  // Validates the vocabulary and builds the lookup tables.
  static Result<Tokenizer> create(Vocabulary vocabulary);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  Result<std::vector<int32_t>> encode(std::string_view text, const EncodeOptions& options = {}) const;

  // Valid UTF-8 text (ill-formed byte sequences become U+FFFD).
  Result<std::string> decode(std::span<const int32_t> ids, const DecodeOptions& options = {}) const;
  // The raw bytes, possibly not valid UTF-8.
  Result<std::string> decode_bytes(std::span<const int32_t> ids, const DecodeOptions& options = {}) const;

  // The bytes token `id` stands for (no prefix stripping; special tokens give their text).
  // kInvalidArgument when out of range.
  Result<std::string_view> token_piece(int32_t id) const;
  // True for control and unknown-type tokens (the ones skip_special drops).
  bool is_special(int32_t id) const;
  // True when decoding removes one leading space from the sequence's first token.
  bool strips_dummy_prefix() const;

  const Vocabulary& vocabulary() const;
  int32_t size() const;
  // The id of a token spelled exactly `text`, kNoToken when none.
  int32_t find_token(std::string_view text) const;
  // EOS, EOT: the ids that end generation.
  bool is_end_of_generation(int32_t id) const;

 private:
  struct State;
  Tokenizer() = default;
  std::unique_ptr<const State> state_;
};

}  // namespace llama_worker::tokenizer
