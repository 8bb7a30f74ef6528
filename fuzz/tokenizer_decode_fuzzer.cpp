// libFuzzer harness: decode arbitrary id sequences, in and out of range. Byte 0 picks the
// vocabulary (bits 0-1), skip_special (bit 2) and the streaming boundary (bit 3); then every 4
// bytes are one id: a high byte below 0xF0 maps the id into the vocabulary, 0xF0..0xFF keeps the
// raw 32-bit value (negative or too large). Invariants:
//   - decode fails exactly when some id is out of range;
//   - otherwise its text is valid UTF-8, and the streaming decoder, fed one id at a time,
//     returns only valid UTF-8 whose concatenation equals it.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tokenizer/streaming_decoder.hpp"
#include "tokenizer/utf8.hpp"
#include "tokenizer_fuzz_common.hpp"

using namespace llama_worker;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& tokenizers = fuzz::fuzz_tokenizers();
  const uint8_t flags = data[0];
  const tokenizer::Tokenizer& t = *tokenizers[flags & 3];
  const tokenizer::DecodeOptions options{(flags & 4) != 0, true};
  const auto boundary = (flags & 8) ? tokenizer::StreamingDecoder::Boundary::kCharacter
                                    : tokenizer::StreamingDecoder::Boundary::kGraphemeCluster;

  std::vector<int32_t> ids;
  bool out_of_range = false;
  for (size_t i = 1; i + 4 <= size; i += 4) {
    uint32_t raw;
    std::memcpy(&raw, data + i, 4);
    int32_t id;
    if ((raw >> 24) < 0xF0) {
      id = static_cast<int32_t>(raw % static_cast<uint32_t>(t.size()));
    } else {
      id = static_cast<int32_t>(raw);
    }
    out_of_range |= id < 0 || id >= t.size();
    ids.push_back(id);
  }
  Result<std::string> whole = t.decode(ids, options);
  fuzz::fuzz_check(whole.is_ok() != out_of_range, "decode status does not match the ids' range");
  tokenizer::StreamingDecoder decoder(t, boundary, options);
  std::string joined;
  for (const int32_t id : ids) {
    Result<std::string> piece = decoder.push(id);
    fuzz::fuzz_check(piece.is_ok() == (id >= 0 && id < t.size()),
                     "push status does not match the id's range");
    if (!piece) continue;
    fuzz::fuzz_check(tokenizer::validate_utf8(*piece).is_ok(), "streamed piece is not valid UTF-8");
    joined += *piece;
  }
  const std::string rest = decoder.finish();
  fuzz::fuzz_check(tokenizer::validate_utf8(rest).is_ok(), "finish() is not valid UTF-8");
  joined += rest;
  if (whole) fuzz::fuzz_check(joined == *whole, "streamed text differs from decode");
  return 0;
}
