// GPT-2's byte-to-unicode table: byte-level BPE spells every byte as one printable code point so
// that token strings are text. Bytes '!'..'~', U+00A1..U+00AC and U+00AE..U+00FF stand for
// themselves; the other 68 bytes (controls, space, 0x7F..0xA0, 0xAD) take U+0100, U+0101, ... in
// byte order. The map is a bijection between the 256 bytes and those 256 code points.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llama_worker::tokenizer {

class ByteUnicodeTable {
 public:
  ByteUnicodeTable();

  char32_t code_point(uint8_t byte) const { return byte_to_code_point_[byte]; }
  const std::string& utf8(uint8_t byte) const { return byte_to_utf8_[byte]; }
  // The byte a code point stands for; nullopt when it is not one of the 256.
  std::optional<uint8_t> byte(char32_t code_point) const;

  // Spells raw bytes in the byte alphabet: "Hi there" -> "HiĠthere".
  std::string encode(std::string_view bytes) const;
  // Reverses encode; nullopt when `spelled` contains a code point outside the alphabet (or is
  // not valid UTF-8).
  std::optional<std::string> decode(std::string_view spelled) const;

  static const ByteUnicodeTable& instance();

 private:
  std::array<char32_t, 256> byte_to_code_point_{};
  std::array<std::string, 256> byte_to_utf8_{};
  std::array<int16_t, 324> code_point_to_byte_{};  // every code point of the alphabet is < 324
};

}  // namespace llama_worker::tokenizer
