// tokenizer::AddedTokenMatcher: finds added (special) tokens in text before the model sees it,
// the way Hugging Face's AddedVocabulary does: scanning left to right, at the first position where
// any active token's text starts, the longest such token wins (leftmost-longest).
//
// Active tokens: user-defined tokens always; control and unknown-type tokens only when special
// parsing is on. A token in rstrip_ids also takes the Unicode white space that follows it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocabulary.hpp"

namespace llama_worker::tokenizer {

// A stretch of the input: either text to tokenize or one added token.
struct Fragment {
  size_t begin = 0;  // byte range in the input
  size_t end = 0;
  int32_t token = kNoToken;  // the added token, or kNoToken for text
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(const Vocabulary& vocabulary);

  // Splits valid UTF-8 into fragments covering it in order (rstrip white space belongs to the
  // token's fragment). `fragments` is cleared first.
  void split(std::string_view text, bool parse_special, std::vector<Fragment>& fragments) const;

 private:
  struct Candidate {
    int32_t id;
    bool special;  // needs parse_special
  };
  const Vocabulary* vocabulary_ = nullptr;
  std::array<std::vector<Candidate>, 256> by_first_byte_;  // longest first
  std::array<bool, 256> first_byte_plain_{};               // some always-active token starts here
  std::array<bool, 256> first_byte_any_{};
  std::vector<bool> rstrip_;  // (n_vocab)
};

// Unicode White_Space (Rust's char::is_whitespace).
bool is_white_space(char32_t code_point);

}  // namespace llama_worker::tokenizer
