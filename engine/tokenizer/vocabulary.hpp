// tokenizer::Vocabulary: everything a tokenizer needs, as plain data. It is filled from GGUF
// metadata by vocabulary_from_gguf() (vocabulary_from_gguf.hpp) or built by hand in tests; the
// algorithms never see the GGUF file.
//
// Invariants checked by validate_vocabulary() (and so by Tokenizer::create):
//   - model is "gpt2" (byte-level BPE) or "llama" (SentencePiece-style BPE); pre is a known
//     pre-tokenizer name for gpt2 (see pretokenizer.hpp);
//   - tokens: at least one, none empty, each valid UTF-8, no two equal;
//   - token_types: one per token, each a known TokenType; scores: none, or one per token;
//   - byte tokens (kByte) are spelled "<0xHH>" (two hex digits) and no byte has two tokens;
//   - merges: "left right" with both sides non-empty and left, right and left+right tokens;
//     gpt2 vocabularies have merges (a byte-alphabet character need not be a token: SmolLM2
//     lacks 21 of them; byte_level_bpe.hpp says how such a byte is encoded);
//   - special ids are kNoToken or in [0, size); add_bos / add_eos need a BOS / EOS id;
//   - rstrip_ids are in range.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace llama_worker::tokenizer {

inline constexpr int32_t kNoToken = -1;

// llama.cpp's token types, as stored in tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,      // <unk>
  kControl = 3,      // <s>, <|im_start|>: matched in text only when special parsing is on
  kUserDefined = 4,  // added tokens: always matched whole in text
  kUnused = 5,
  kByte = 6,  // <0x0A>: SentencePiece byte fallback
};

struct SpecialTokenIds {
  int32_t bos = kNoToken;
  int32_t eos = kNoToken;
  int32_t eot = kNoToken;  // end of turn (<|im_end|>, <|end|>): ends generation like EOS
  int32_t unk = kNoToken;
  int32_t pad = kNoToken;
};

struct Vocabulary {
  std::string model;                // tokenizer.ggml.model: "gpt2" or "llama"
  std::string pre;                  // tokenizer.ggml.pre; "" means "default"
  std::vector<std::string> tokens;  // (n_vocab) token text; byte-level BPE spells bytes in GPT-2's alphabet
  std::vector<TokenType> token_types;  // (n_vocab)
  std::vector<float> scores;           // (n_vocab) or empty; SentencePiece merge priority (higher first)
  std::vector<std::string> merges;     // (n_merges) "left right"; the index is the rank (lower first)
  SpecialTokenIds special;
  bool add_bos = false;             // prepend BOS when encoding with add_special
  bool add_eos = false;             // append EOS when encoding with add_special
  bool add_space_prefix = true;     // SentencePiece only: the dummy "▁" before each text fragment
  std::vector<int32_t> rstrip_ids;  // special tokens that swallow the whitespace after them in text
};

Status validate_vocabulary(const Vocabulary& vocabulary);

// "normal", "control", ... for messages.
const char* token_type_name(TokenType type);

// Parses "<0xHH>"; -1 when `text` is not spelled that way.
int parse_byte_token(std::string_view text);

}  // namespace llama_worker::tokenizer
