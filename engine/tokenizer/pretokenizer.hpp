// Pre-tokenizers of byte-level BPE: the regex split chosen by tokenizer.ggml.pre, applied before
// merges (a merge never crosses a piece boundary), and the normalization Hugging Face applies
// first for that model.
//
// Each configuration is a list of regexes applied in turn, the way Hugging Face's
// Split(behavior=Isolated) does it: every match becomes a piece, and so does every stretch of
// text between two matches; the next regex then splits each piece again. Patterns are compiled
// with PCRE2 (UTF + Unicode properties, JIT). The regexes are Hugging Face's (tokenizer.json),
// which Oniguruma runs; two spellings are adapted so that PCRE2 means the same thing:
//   - \s is written as the class of Unicode White_Space characters (Oniguruma's \s); PCRE2's
//     \s with UCP also matches U+180E;
//   - (?i:'s|...) is kept: PCRE2 and Oniguruma both fold case with Unicode rules ('ſ' ~ 's').
//
//   pre name(s)                     regexes                                 NFC   whole-word lookup
//   qwen2, deepseek-r1-qwen, megrez qwen2                                   yes   no
//   llama-bpe, llama3, llama-v3     llama3 (digits in groups of 1..3)       no    yes (ignore_merges)
//   gpt-2, gpt2                     gpt2                                    no    no
//   smollm                          \p{N} (each digit alone), then gpt2     no    no
//   default, ""                     llama.cpp's default list                no    no
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace llama_worker::tokenizer {

struct PretokenizerConfig {
  std::string name;                  // the canonical name ("qwen2", "llama-bpe", ...)
  std::vector<std::string> regexes;  // PCRE2 syntax, applied in order
  bool nfc = false;                  // NFC-normalize each text fragment first (Qwen)
  bool ignore_merges = false;        // a piece that is itself a token is emitted whole (Llama 3)
};

// The configuration for a tokenizer.ggml.pre value; kUnsupported listing the known names.
Result<PretokenizerConfig> pretokenizer_config(std::string_view pre);

// A byte range [begin, end) of the text that was split.
struct Piece {
  size_t begin = 0;
  size_t end = 0;
};

class Pretokenizer {
 public:
  static Result<Pretokenizer> create(PretokenizerConfig config);
  Pretokenizer(Pretokenizer&&) noexcept;
  Pretokenizer& operator=(Pretokenizer&&) noexcept;
  ~Pretokenizer();

  const PretokenizerConfig& config() const;

  // Splits valid UTF-8 into pieces covering it in order; appends to `pieces` (cleared first).
  Status split(std::string_view text, std::vector<Piece>& pieces) const;

 private:
  struct Compiled;
  Pretokenizer() = default;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace llama_worker::tokenizer
