// GGUF writer: builds a valid GGUF v3 file (v2 on request; the layout is the same) from metadata
// and tensors. Used by the synthetic-model generator, the fuzz seed corpus and the tests.
//
// Layout written: header, metadata in insertion order (setting an existing key replaces its
// value in place), the tensor table in insertion order, zero padding to the alignment, then each
// tensor's bytes at the next multiple of the alignment (zero padded). general.alignment is
// written as a u32 whenever the alignment differs from the default 32 (set_alignment), and is
// kept in sync when the caller sets the key directly.
//
// Invalid input (a bad shape, bytes that do not match the shape, duplicate tensor names, a
// non-power-of-two alignment, an array of arrays) is remembered and reported by to_bytes() /
// write(): the builder calls themselves never fail, so call sites stay simple.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.hpp"
#include "gguf/file.hpp"
#include "gguf/metadata.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::gguf {

class Writer {
 public:
  // Scalars: any MetadataScalar (uint8_t..int64_t, float, double, bool, std::string).
  template <MetadataScalar T>
  void set(std::string key, T value);
  void set(std::string key, const char* value) { set(std::move(key), std::string(value)); }
  void set(std::string key, std::string_view value) { set(std::move(key), std::string(value)); }
  // Arrays of one scalar type (arrays of arrays are not GGUF the reader accepts).
  template <MetadataScalar T>
  void set(std::string key, const std::vector<T>& values);
  void erase(std::string_view key);

  void set_alignment(uint32_t alignment);  // power of two, 1..kMaxAlignment; default 32
  void set_version(uint32_t version);      // 2 or 3 (default 3)

  // shape in ggml order (shape[0] = row length); bytes must be exactly the tensor's size.
  void add_tensor(std::string name, TensorType type, std::vector<int64_t> shape, std::vector<uint8_t> bytes);

  Result<std::vector<uint8_t>> to_bytes() const;
  Status write(const std::string& path) const;

  size_t metadata_count() const { return entries_.size(); }
  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct Entry {
    std::string key;
    ValueType type = ValueType::kUint8;
    ValueType element_type = ValueType::kUint8;  // arrays only
    uint64_t count = 1;                          // arrays: element count
    std::vector<uint8_t> payload;                // serialized value (after the type id/array header)
  };
  struct PendingTensor {
    std::string name;
    TensorType type = TensorType::kF32;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  void put(Entry entry);

  std::vector<Entry> entries_;
  std::vector<PendingTensor> tensors_;
  uint32_t alignment_ = kDefaultAlignment;
  uint32_t version_ = 3;
  std::string first_error_;  // the first invalid call, reported by to_bytes()
};

}  // namespace llama_worker::gguf
