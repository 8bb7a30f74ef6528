// Internal to engine/gguf: one validated GGUF file (a whole model, or one part of a split model).
// The parser fills a ParsedPart from bytes it never copies; File gathers one or more parts.
//
// Invariants after parse_part() succeeds: every view (keys, values, string arrays, tensor data)
// points into `bytes`; data_offset <= bytes.size() whenever there are tensors; every tensor's
// [file_offset, file_offset + byte_size) lies inside `bytes` and overlaps no other tensor's.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.hpp"
#include "gguf/file.hpp"
#include "gguf/metadata.hpp"

namespace llama_worker::gguf::detail {

// A read-only private mapping of a whole file; unmapped on destruction. Empty files are not
// mapped (mmap of 0 bytes fails) and read as zero bytes.
class MappedFile {
 public:
  static Result<MappedFile> map(const std::string& path);
  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {static_cast<const uint8_t*>(address_), size_}; }

 private:
  void* address_ = nullptr;
  size_t size_ = 0;
};

struct ParsedPart {
  std::string name;                // path or caller-given name, used in every message
  MappedFile mapping;              // empty when the bytes belong to the caller
  std::span<const uint8_t> bytes;  // the whole file
  uint32_t version = 0;
  uint64_t alignment = kDefaultAlignment;
  uint64_t data_offset = 0;  // start of the data section (may equal bytes.size())
  std::vector<MetadataEntry> metadata;
  std::unordered_map<std::string_view, size_t> key_index;
  std::vector<std::unique_ptr<std::string_view[]>> string_arrays;  // backing of Value::strings
  std::vector<TensorInfo> tensors;                                 // split index left 0; File sets it

  const Value* find(std::string_view key) const {
    auto it = key_index.find(key);
    return it == key_index.end() ? nullptr : &metadata[it->second].value;
  }
};

// Validates part.bytes completely and fills the rest of `part`.
Status parse_part(ParsedPart& part);

// Key text safe for a one-line message: printable ASCII kept, other bytes as \xNN, long text cut.
std::string printable(std::string_view text, size_t max_bytes = 80);

}  // namespace llama_worker::gguf::detail
