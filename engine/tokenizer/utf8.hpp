// UTF-8 helpers for the tokenizer: strict validation (with the offending byte offset), code point
// iteration, lossy repair, and NFC normalization.
//
// Policy for invalid input (decoder side): `repair_utf8` replaces each "maximal subpart" of an
// ill-formed sequence with U+FFFD, the substitution policy recommended by the Unicode Standard
// (chapter 3, U+FFFD substitution) and used by Rust's String::from_utf8_lossy, and so by Hugging
// Face tokenizers' byte-level decoder. Because the decision at each position depends only on the
// bytes of that (possibly ill-formed) sequence, repairing a byte string in pieces that are cut
// after complete sequences gives the same result as repairing it whole; the streaming decoder
// relies on this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace llama_worker::tokenizer {

inline constexpr char32_t kReplacementCharacter = 0xFFFD;
inline constexpr std::string_view kReplacementCharacterUtf8 = "\xEF\xBF\xBD";

// Length of the UTF-8 sequence a lead byte announces (1..4), or 0 for a byte that cannot start
// one (continuation bytes 0x80..0xBF, 0xC0, 0xC1, 0xF5..0xFF).
int utf8_sequence_length(uint8_t lead);

// Result of examining the sequence that starts at one position.
struct Utf8Sequence {
  enum class Kind { kValid, kInvalid, kIncomplete };
  Kind kind = Kind::kValid;
  size_t length = 0;        // kValid: bytes of the character; kInvalid: bytes of the maximal subpart
                            // to replace by one U+FFFD (>= 1); kIncomplete: bytes available (a valid prefix)
  char32_t code_point = 0;  // kValid only
};

// Examines the sequence starting at text[0]; text must not be empty.
Utf8Sequence examine_utf8(std::string_view text);

// kInvalidArgument "invalid UTF-8 at byte offset N: ..." for the first ill-formed sequence.
Status validate_utf8(std::string_view text);

// Appends the UTF-8 encoding of a code point (<= 0x10FFFF, not a surrogate).
void append_utf8(std::string& out, char32_t code_point);

// Decodes one code point of already-validated text at `offset`, advancing it.
char32_t next_code_point(std::string_view valid_text, size_t& offset);

// Replaces every ill-formed sequence by U+FFFD (maximal subparts). When `hold_incomplete` is true
// a trailing sequence that is a valid but incomplete prefix is not written; its length is
// returned in `held` so the caller can keep those bytes for later.
std::string repair_utf8(std::string_view bytes, bool hold_incomplete = false, size_t* held = nullptr);

// Canonical composition (NFC) of valid UTF-8. Text whose code points are all below U+0300 is
// returned unchanged without calling utf8proc (it is NFC by construction).
Result<std::string> nfc_normalize(std::string_view valid_text);

// True when no code point needs NFC attention (all below U+0300): a quick check.
bool is_trivially_nfc(std::string_view valid_text);

}  // namespace llama_worker::tokenizer
