// Human-readable text of metadata values, as `llama-worker inspect` prints them (gguf-dump style):
// numbers in their shortest exact form, strings quoted with escapes, long arrays summarised as
// the first few elements and a count of the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gguf/metadata.hpp"

namespace llama_worker::gguf {

struct ValueFormat {
  size_t max_array_items = 8;    // elements shown before "... (N more)"
  size_t max_string_bytes = 80;  // bytes of a string shown before "..."
};

// "u32", "str", "arr[str,151936]"
std::string describe_value_type(const Value& value);
// Element i (i == 0 for a scalar) as text; strings quoted and escaped.
std::string format_element(const Value& value, uint64_t i, const ValueFormat& format = {});
// The whole value: a scalar, or "[a, b, c, ... (N more)]".
std::string format_value(const Value& value, const ValueFormat& format = {});
// A quoted, escaped rendering of arbitrary bytes (non-printable bytes as \xNN, cut at max_bytes).
std::string quote(std::string_view text, size_t max_bytes);

}  // namespace llama_worker::gguf
