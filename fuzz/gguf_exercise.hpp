// Shared by the GGUF harnesses: after a successful parse, touch everything a caller can reach so
// that any view pointing outside the input is read (and caught by ASan): every key, every value
// element, every typed accessor, every tensor's first and last data byte, the inspect formatting.
// A failed parse must carry a message that names the input. Violations call __builtin_trap():
// a crash is a finding, never hidden.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "gguf/file.hpp"
#include "gguf/value_format.hpp"

namespace llama_worker::fuzz {

template <class T>
inline void try_get(const gguf::File& file, std::string_view key, bool small_array) {
  auto scalar = file.get<T>(key);
  if (!scalar && scalar.error().message.empty()) __builtin_trap();
  if (small_array) {
    auto array = file.get_array<T>(key);
    if (!array && array.error().message.empty()) __builtin_trap();
  }
}

inline uint64_t exercise_file(const gguf::File& file) {
  uint64_t checksum = file.version() + file.alignment();
  for (const gguf::MetadataEntry& entry : file.metadata()) {
    checksum += entry.key.size() + (entry.key.empty() ? 0 : static_cast<uint8_t>(entry.key.back()));
    const gguf::Value& value = entry.value;
    const gguf::ValueType scalar = value.scalar_type();
    if (scalar == gguf::ValueType::kString) {
      for (uint64_t i = 0; i < value.count; ++i) {
        const std::string_view text = value.string_at(i);
        checksum += text.size();
        if (!text.empty()) checksum += static_cast<uint8_t>(text.front()) + static_cast<uint8_t>(text.back());
      }
    } else {
      const uint64_t bytes = value.count * gguf::value_type_size(scalar);
      if (bytes > 0) checksum += value.data[0] + value.data[bytes - 1];
    }
    checksum += gguf::format_value(value, {4, 32}).size();
    if (file.find(entry.key) == nullptr) __builtin_trap();  // every listed key is found
    const bool small = value.count <= 4096;
    try_get<uint8_t>(file, entry.key, small);
    try_get<int8_t>(file, entry.key, small);
    try_get<uint16_t>(file, entry.key, small);
    try_get<int16_t>(file, entry.key, small);
    try_get<uint32_t>(file, entry.key, small);
    try_get<int32_t>(file, entry.key, small);
    try_get<uint64_t>(file, entry.key, small);
    try_get<int64_t>(file, entry.key, small);
    try_get<float>(file, entry.key, small);
    try_get<double>(file, entry.key, small);
    try_get<bool>(file, entry.key, small);
    try_get<std::string>(file, entry.key, small);
  }
  (void)file.architecture();
  for (const gguf::TensorInfo& tensor : file.tensors()) {
    if (file.find_tensor(tensor.name) != &tensor) __builtin_trap();  // names are unique
    if (tensor.byte_size == 0 || tensor.element_count() <= 0) __builtin_trap();
    checksum += tensor.data[0] + tensor.data[tensor.byte_size - 1];
  }
  return checksum;
}

// Parses bytes and exercises the result; returns whether the bytes were a valid GGUF file.
inline bool exercise_bytes(std::span<const uint8_t> bytes) {
  auto file = gguf::File::from_bytes(bytes, "fuzz-input");
  if (!file) {
    // One line that names the input: what the CLI prints after "error: ".
    const std::string& message = file.error().message;
    if (message.rfind("fuzz-input", 0) != 0 || message.find('\n') != std::string::npos) __builtin_trap();
    return false;
  }
  volatile uint64_t sink = exercise_file(*file);
  (void)sink;
  return true;
}

}  // namespace llama_worker::fuzz
