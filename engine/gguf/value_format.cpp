// Text rendering of metadata values (see value_format.hpp); numbers via std::to_chars, so floats
// print in their shortest round-tripping form.
#include "gguf/value_format.hpp"

#include <charconv>
#include <cstring>

namespace llama_worker::gguf {
namespace {

template <class T>
std::string number(T value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

}  // namespace

std::string quote(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  const size_t shown = std::min(text.size(), max_bytes);
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));  // UTF-8 passes through
        }
    }
  }
  out += "\"";
  if (shown < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

std::string describe_value_type(const Value& value) {
  if (!value.is_array()) return std::string(value_type_name(value.type));
  return "arr[" + std::string(value_type_name(value.element_type)) + "," + std::to_string(value.count) + "]";
}

std::string format_element(const Value& value, uint64_t i, const ValueFormat& format) {
  switch (value.scalar_type()) {
    case ValueType::kUint8:
      return number(value.raw_at<uint8_t>(i));
    case ValueType::kInt8:
      return number(value.raw_at<int8_t>(i));
    case ValueType::kUint16:
      return number(value.raw_at<uint16_t>(i));
    case ValueType::kInt16:
      return number(value.raw_at<int16_t>(i));
    case ValueType::kUint32:
      return number(value.raw_at<uint32_t>(i));
    case ValueType::kInt32:
      return number(value.raw_at<int32_t>(i));
    case ValueType::kUint64:
      return number(value.raw_at<uint64_t>(i));
    case ValueType::kInt64:
      return number(value.raw_at<int64_t>(i));
    case ValueType::kFloat32:
      return number(value.raw_at<float>(i));
    case ValueType::kFloat64:
      return number(value.raw_at<double>(i));
    case ValueType::kBool:
      return value.raw_at<uint8_t>(i) != 0 ? "true" : "false";
    case ValueType::kString:
      return quote(value.string_at(i), format.max_string_bytes);
    case ValueType::kArray:
      break;
  }
  return "?";
}

std::string format_value(const Value& value, const ValueFormat& format) {
  if (!value.is_array()) return format_element(value, 0, format);
  std::string out = "[";
  const uint64_t shown = std::min<uint64_t>(value.count, format.max_array_items);
  for (uint64_t i = 0; i < shown; ++i) {
    if (i > 0) out += ", ";
    out += format_element(value, i, format);
  }
  if (shown < value.count)
    out += (shown > 0 ? ", ... (" : "... (") + std::to_string(value.count - shown) + " more)";
  out += "]";
  return out;
}

}  // namespace llama_worker::gguf
