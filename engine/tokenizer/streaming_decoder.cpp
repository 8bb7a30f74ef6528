// Streaming detokenizer; see streaming_decoder.hpp.
#include "tokenizer/streaming_decoder.hpp"

#include <utf8proc.h>

#include "tokenizer/utf8.hpp"

namespace llama_worker::tokenizer {

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, Boundary boundary, DecodeOptions options)
    : tokenizer_(&tokenizer), boundary_(boundary), options_(options) {}

Result<std::string> StreamingDecoder::push(int32_t id) {
  LW_ASSIGN_OR_RETURN(std::string_view piece, tokenizer_->token_piece(id));
  if (options_.skip_special && tokenizer_->is_special(id)) return std::string();
  const bool had_text = !piece.empty();
  if (!seen_text_ && options_.strip_dummy_prefix && tokenizer_->strips_dummy_prefix() && had_text &&
      piece[0] == ' ') {
    piece.remove_prefix(1);
  }
  if (had_text) seen_text_ = true;
  pending_.append(piece);
  return take_settled();
}

std::string StreamingDecoder::take_settled() {
  size_t held = 0;
  std::string text = repair_utf8(pending_, /*hold_incomplete=*/true, &held);
  const std::string incomplete = pending_.substr(pending_.size() - held);
  if (boundary_ == Boundary::kCharacter || text.empty()) {
    pending_ = incomplete;
    return text;
  }
  // Find the start of the last grapheme cluster: everything before it is settled.
  size_t last_cluster = 0;
  utf8proc_int32_t state = 0;
  size_t offset = 0;
  char32_t previous = next_code_point(text, offset);
  while (offset < text.size()) {
    const size_t start = offset;
    const char32_t current = next_code_point(text, offset);
    if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(previous),
                                         static_cast<utf8proc_int32_t>(current), &state)) {
      last_cluster = start;
    }
    previous = current;
  }
  pending_ = text.substr(last_cluster) + incomplete;
  text.resize(last_cluster);
  return text;
}

std::string StreamingDecoder::finish() {
  std::string text = repair_utf8(pending_);
  pending_.clear();
  seen_text_ = false;
  return text;
}

}  // namespace llama_worker::tokenizer
