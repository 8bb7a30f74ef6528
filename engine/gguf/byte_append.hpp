// Little-endian byte appenders shared by the GGUF writer and the test-only raw builder
// (gguf/testing/raw_gguf.cpp): the two serialize the same primitives.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace llama_worker::gguf::bytes {

// resize + memcpy rather than insert: GCC 12 warns falsely (-Wstringop-overflow) on inserts into
// vectors that may be empty.
inline void append_bytes(std::vector<uint8_t>& out, const void* bytes, size_t count) {
  if (count == 0) return;
  const size_t at = out.size();
  out.resize(at + count);
  std::memcpy(out.data() + at, bytes, count);
}

template <class T>
void append(std::vector<uint8_t>& out, T value) {
  append_bytes(out, &value, sizeof(T));
}

// A GGUF string: its uint64 length (the text's size unless `length` claims another) and its bytes.
inline void append_string(std::vector<uint8_t>& out, std::string_view text,
                          std::optional<uint64_t> length = {}) {
  append<uint64_t>(out, length.value_or(text.size()));
  append_bytes(out, text.data(), text.size());
}

}  // namespace llama_worker::gguf::bytes
