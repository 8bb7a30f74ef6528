// UTF-8 validation, repair and NFC; see utf8.hpp for the policies.
#include "tokenizer/utf8.hpp"

#include <utf8proc.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace llama_worker::tokenizer {
namespace {

// Allowed range of the second byte for a lead byte (Unicode Table 3-7); the remaining
// continuation bytes are always 0x80..0xBF.
struct SecondByteRange {
  uint8_t low;
  uint8_t high;
};

SecondByteRange second_byte_range(uint8_t lead) {
  switch (lead) {
    case 0xE0:
      return {0xA0, 0xBF};  // no overlong 3-byte forms
    case 0xED:
      return {0x80, 0x9F};  // no surrogates
    case 0xF0:
      return {0x90, 0xBF};  // no overlong 4-byte forms
    case 0xF4:
      return {0x80, 0x8F};  // nothing above U+10FFFF
    default:
      return {0x80, 0xBF};
  }
}

}  // namespace

int utf8_sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

Utf8Sequence examine_utf8(std::string_view text) {
  const auto lead = static_cast<uint8_t>(text[0]);
  const int length = utf8_sequence_length(lead);
  if (length == 1) return {Utf8Sequence::Kind::kValid, 1, lead};
  if (length == 0) return {Utf8Sequence::Kind::kInvalid, 1, 0};
  char32_t code_point = lead & (0x7F >> length);
  for (int i = 1; i < length; ++i) {
    if (static_cast<size_t>(i) >= text.size())
      return {Utf8Sequence::Kind::kIncomplete, static_cast<size_t>(i), 0};
    const auto byte = static_cast<uint8_t>(text[i]);
    const SecondByteRange range = i == 1 ? second_byte_range(lead) : SecondByteRange{0x80, 0xBF};
    if (byte < range.low || byte > range.high)
      return {Utf8Sequence::Kind::kInvalid, static_cast<size_t>(i), 0};
    code_point = (code_point << 6) | (byte & 0x3F);
  }
  return {Utf8Sequence::Kind::kValid, static_cast<size_t>(length), code_point};
}

Status validate_utf8(std::string_view text) {
  size_t offset = 0;
  while (offset < text.size()) {
    const auto lead = static_cast<uint8_t>(text[offset]);
    if (lead < 0x80) {
      ++offset;
      continue;
    }
    const Utf8Sequence sequence = examine_utf8(text.substr(offset));
    if (sequence.kind == Utf8Sequence::Kind::kValid) {
      offset += sequence.length;
      continue;
    }
    char detail[96];
    if (sequence.kind == Utf8Sequence::Kind::kIncomplete) {
      std::snprintf(detail, sizeof detail,
                    "lead byte 0x%02X starts a sequence cut off by the end of the text", lead);
    } else if (sequence.length == 1 && utf8_sequence_length(lead) == 0) {
      std::snprintf(detail, sizeof detail, "byte 0x%02X cannot start a character", lead);
    } else {
      std::snprintf(detail, sizeof detail, "lead byte 0x%02X followed by 0x%02X", lead,
                    static_cast<uint8_t>(text[offset + sequence.length]));
    }
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid UTF-8 at byte offset " + std::to_string(offset) + ": " + detail);
  }
  return Status::ok();
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char32_t next_code_point(std::string_view text, size_t& offset) {
  const auto lead = static_cast<uint8_t>(text[offset]);
  const int length = utf8_sequence_length(lead);
  if (length <= 1) {
    ++offset;
    return lead;
  }
  char32_t cp = lead & (0x7F >> length);
  for (int i = 1; i < length; ++i) cp = (cp << 6) | (static_cast<uint8_t>(text[offset + i]) & 0x3F);
  offset += length;
  return cp;
}

std::string repair_utf8(std::string_view bytes, bool hold_incomplete, size_t* held) {
  std::string out;
  out.reserve(bytes.size());
  size_t offset = 0;
  if (held) *held = 0;
  while (offset < bytes.size()) {
    if (static_cast<uint8_t>(bytes[offset]) < 0x80) {
      out.push_back(bytes[offset++]);
      continue;
    }
    const Utf8Sequence sequence = examine_utf8(bytes.substr(offset));
    switch (sequence.kind) {
      case Utf8Sequence::Kind::kValid:
        out.append(bytes.substr(offset, sequence.length));
        break;
      case Utf8Sequence::Kind::kInvalid:
        out.append(kReplacementCharacterUtf8);
        break;
      case Utf8Sequence::Kind::kIncomplete:
        if (hold_incomplete) {
          if (held) *held = sequence.length;
        } else {
          out.append(kReplacementCharacterUtf8);
        }
        break;
    }
    offset += sequence.length;
  }
  return out;
}

bool is_trivially_nfc(std::string_view text) {
  // Lead bytes 0xC2..0xCB encode U+0080..U+02FF; everything from U+0300 on starts at 0xCC.
  for (const char c : text) {
    if (static_cast<uint8_t>(c) >= 0xCC) return false;
  }
  return true;
}

Result<std::string> nfc_normalize(std::string_view text) {
  if (is_trivially_nfc(text)) return std::string(text);
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t length = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
      &mapped, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (length < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("NFC normalization failed: ") + utf8proc_errmsg(length));
  }
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
  return std::string(reinterpret_cast<const char*>(mapped), static_cast<size_t>(length));
}

}  // namespace llama_worker::tokenizer
