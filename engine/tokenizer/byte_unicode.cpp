// GPT-2 byte <-> unicode alphabet; see byte_unicode.hpp.
#include "tokenizer/byte_unicode.hpp"

#include "tokenizer/utf8.hpp"

namespace llama_worker::tokenizer {
namespace {

bool stands_for_itself(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

}  // namespace

ByteUnicodeTable::ByteUnicodeTable() {
  code_point_to_byte_.fill(-1);
  char32_t next_shifted = 256;
  for (int byte = 0; byte < 256; ++byte) {
    const char32_t cp = stands_for_itself(byte) ? static_cast<char32_t>(byte) : next_shifted++;
    byte_to_code_point_[byte] = cp;
    append_utf8(byte_to_utf8_[byte], cp);
    code_point_to_byte_[cp] = static_cast<int16_t>(byte);
  }
}

std::optional<uint8_t> ByteUnicodeTable::byte(char32_t cp) const {
  if (cp >= code_point_to_byte_.size() || code_point_to_byte_[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(code_point_to_byte_[cp]);
}

std::string ByteUnicodeTable::encode(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) out += byte_to_utf8_[static_cast<uint8_t>(c)];
  return out;
}

std::optional<std::string> ByteUnicodeTable::decode(std::string_view spelled) const {
  if (!validate_utf8(spelled)) return std::nullopt;
  std::string out;
  out.reserve(spelled.size());
  size_t offset = 0;
  while (offset < spelled.size()) {
    const std::optional<uint8_t> b = byte(next_code_point(spelled, offset));
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
  }
  return out;
}

const ByteUnicodeTable& ByteUnicodeTable::instance() {
  static const ByteUnicodeTable table;
  return table;
}

}  // namespace llama_worker::tokenizer
