// tokenizer::StreamingDecoder: turns generated ids into text one id at a time and never emits a
// broken UTF-8 sequence.
//
// Each push(id) appends the token's bytes to a pending buffer and returns the longest prefix that
// is settled:
//   - a multi-byte character split across tokens is held back until its last byte arrives;
//   - bytes that can no longer become a valid character are emitted as U+FFFD (maximal
//     subparts, the same policy as Tokenizer::decode);
//   - with Boundary::kGraphemeCluster (the default) the last grapheme cluster is also held back
//     until a character arrives that starts a new cluster (Unicode UAX #29, via utf8proc), so an
//     emoji ZWJ sequence, a flag or a letter with combining marks comes out whole;
// finish() flushes what is left, a dangling partial character becoming U+FFFD.
//
// Invariants (property-tested): the concatenation of every push() and finish() equals
// Tokenizer::decode of the same ids, for any ids; every returned string is valid UTF-8.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llama_worker::tokenizer {

class StreamingDecoder {
 public:
  enum class Boundary {
    kCharacter,        // emit every complete character at once
    kGraphemeCluster,  // also hold back the last, possibly growing, grapheme cluster
  };

  explicit StreamingDecoder(const Tokenizer& tokenizer, Boundary boundary = Boundary::kGraphemeCluster,
                            DecodeOptions options = {});

  // The text that became settled with this id (often empty). kInvalidArgument for an id out of
  // range (the decoder is unchanged).
  Result<std::string> push(int32_t id);
  // Everything still held back; the decoder is then empty and can start a new sequence.
  std::string finish();

 private:
  // Returns the settled prefix of pending_ and keeps the rest.
  std::string take_settled();

  const Tokenizer* tokenizer_;
  Boundary boundary_;
  DecodeOptions options_;
  std::string pending_;     // repaired text, then at most one incomplete sequence's bytes
  bool seen_text_ = false;  // for the SentencePiece dummy-prefix rule
};

}  // namespace llama_worker::tokenizer
