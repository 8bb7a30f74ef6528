// Test and fuzz support for engine/gguf (library llama_worker_gguf_testing; never linked into the
// engine): a byte-level GGUF model that can express INVALID files, plus helpers to copy a parsed
// File into a Writer and to compare two Files.
//
// RawGguf serializes exactly what its fields say: counts, n_dims, type ids, string lengths and
// offsets are whatever the test put there. That is how the malformed corpus, the advisory
// regression tests and the structure-aware fuzz mutator build files the Writer refuses to make.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/file.hpp"
#include "gguf/metadata.hpp"
#include "gguf/writer.hpp"

namespace llama_worker::gguf::testing {

struct RawValue {
  uint32_t type = 0;             // GGUF value type id (any u32, valid or not)
  uint32_t element_type = 0;     // arrays (type 9) only
  uint64_t count = 0;            // arrays only: the element count written
  std::vector<uint8_t> payload;  // bytes after the type id (after element type + count for arrays)
};

struct RawKeyValue {
  std::string key;
  RawValue value;
  std::optional<uint64_t> key_length;  // written instead of key.size() when set
};

struct RawTensor {
  std::string name;
  std::vector<int64_t> dims;
  uint32_t type = 0;                    // ggml type id
  uint64_t offset = 0;                  // from the data section start
  std::optional<uint32_t> n_dims;       // written instead of dims.size() when set
  std::optional<uint64_t> name_length;  // written instead of name.size() when set
};

struct RawGguf {
  std::string magic = "GGUF";  // first 4 bytes written (shorter: written as is)
  uint32_t version = 3;
  std::optional<uint64_t> n_tensors;  // written instead of tensors.size() when set
  std::optional<uint64_t> n_kv;       // written instead of metadata.size() when set
  std::vector<RawKeyValue> metadata;
  std::vector<RawTensor> tensors;
  uint64_t pad_to = 32;       // data section starts at the next multiple (0: no padding)
  std::vector<uint8_t> data;  // the data section

  std::vector<uint8_t> serialize() const;
  RawGguf& add(std::string key, RawValue value);
};

// Value payload builders.
template <class T>
RawValue raw_scalar(uint32_t type, T value);
RawValue raw_u8(uint8_t value);
RawValue raw_u32(uint32_t value);
RawValue raw_i32(int32_t value);
RawValue raw_u64(uint64_t value);
RawValue raw_f32(float value);
RawValue raw_bool_byte(uint8_t byte);  // any byte, even an invalid bool
RawValue raw_string(std::string_view text);
RawValue raw_u32_array(const std::vector<uint32_t>& values);
RawValue raw_string_array(const std::vector<std::string>& values);

// A parsed file as RawGguf (for mutation): every field as read, data section copied.
RawGguf to_raw(const File& file);

// A Writer holding the same metadata (types preserved) and tensors as `file` (part 0's
// metadata; all tensors). Its output re-reads equal to `file` (files_differ is empty) unless
// max_array_elements cuts arrays short (used to make small fuzz seeds from real vocabularies).
Writer to_writer(const File& file, uint64_t max_array_elements = UINT64_MAX);

// Empty when equal (same metadata keys in order, types and values; same tensors by name, type,
// shape and bytes); otherwise the first difference.
std::string files_differ(const File& a, const File& b);

}  // namespace llama_worker::gguf::testing
