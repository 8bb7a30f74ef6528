// GGUF reader: memory-maps a file (or views caller-owned bytes), validates every field before
// use, and exposes the metadata and the tensor table as views into the mapping. Nothing of the
// file is copied except tensor names (std::string, by the shared API contract).
//
// Format (little-endian, versions 2 and 3; v1 used 32-bit counts and is rejected):
//   "GGUF" u32 version  u64 n_tensors  u64 n_kv
//   n_kv  x { str key, u32 value_type, value }             str = u64 length + bytes
//   n_tensors x { str name, u32 n_dims, i64 dims[n_dims], u32 ggml_type, u64 offset }
//   padding to general.alignment (default 32), then the data section; tensor offsets count from
//   the data section's start.
//
// Everything a caller can reach has been validated (see README.md for the full list): counts and
// lengths fit in the bytes left, sizes are overflow-checked, keys and tensor names are unique,
// types are known, shapes are positive and their rows are whole blocks, and each tensor's bytes
// are aligned, inside the file, and overlap no other tensor's.
//
// Split models (llama.cpp gguf-split: NAME-00001-of-0000N.gguf with split.no / split.count) are
// read as one: open() of any part maps every part, takes the metadata from part 0 and the
// tensors from all parts (TensorInfo::split says which).
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/status.hpp"
#include "gguf/metadata.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::gguf {
namespace detail {
struct ParsedPart;  // one validated file: its mapping, metadata and tensor table (parsed_part.hpp)
}  // namespace detail

inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxAlignment = 1u << 20;  // 1 MiB: larger values are rejected as insane
inline constexpr uint32_t kMaxDims = 4;              // GGML_MAX_DIMS
inline constexpr uint64_t kMaxTensorNameBytes = 63;  // GGML_MAX_NAME (64) less the NUL
inline constexpr uint64_t kMaxKeyBytes = 65535;      // the GGUF spec's bound on key length

struct TensorInfo {
  std::string name;
  TensorType type = TensorType::kF32;
  std::vector<int64_t> shape;     // ggml order: shape[0] is the contiguous row length; 1..4 dims, all > 0
  uint64_t offset = 0;            // from its file's data section start; a multiple of the alignment
  uint64_t byte_size = 0;         // row_bytes(shape[0]) * product(shape[1..])
  const uint8_t* data = nullptr;  // into the mapping, valid while File lives
  uint32_t split = 0;             // index of the split file holding the data (0 when not split)
  uint64_t file_offset = 0;       // absolute byte offset of the data in its file

  int64_t element_count() const;
};

// Scalar types get<T> accepts. Integers convert between GGUF integer types when the value fits
// (a u32 key may be read as int64_t, a u64 holding 7 as uint8_t); float reads f32 only, double
// reads f32 or f64; bool and std::string need exactly that type.
template <class T>
concept MetadataScalar = std::same_as<T, uint8_t> || std::same_as<T, int8_t> || std::same_as<T, uint16_t> ||
    std::same_as<T, int16_t> || std::same_as<T, uint32_t> || std::same_as<T, int32_t> ||
    std::same_as<T, uint64_t> || std::same_as<T, int64_t> || std::same_as<T, float> ||
    std::same_as<T, double> || std::same_as<T, bool> || std::same_as<T, std::string>;

class File {
 public:
  // Maps and validates `path`; a split part pulls in its sibling parts.
  static Result<File> open(const std::string& path);
  // Maps and validates exactly one file, never following split parts.
  static Result<File> open_single(const std::string& path);
  // Validates caller-owned bytes without copying them; the caller keeps them alive while the
  // File (and anything it handed out) lives. `name` is used in messages.
  static Result<File> from_bytes(std::span<const uint8_t> bytes, std::string name);

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  uint32_t version() const;  // part 0's: 2 or 3
  const std::string& path() const { return path_; }
  uint64_t alignment() const;    // part 0's general.alignment, default 32
  uint64_t file_size() const;    // bytes of part 0
  uint64_t data_offset() const;  // where part 0's data section starts
  uint32_t split_count() const { return static_cast<uint32_t>(parts_.size()); }  // 1 when not split
  const std::vector<std::string>& split_paths() const { return split_paths_; }

  // Metadata, in file order (part 0's, for split models).
  const std::vector<MetadataEntry>& metadata() const;
  bool has(std::string_view key) const;
  const Value* find(std::string_view key) const;  // nullptr when missing

  // Typed access: kNotFound for a missing key, kInvalidArgument naming both types for a
  // wrong type (or an integer that does not fit T).
  template <MetadataScalar T>
  Result<T> get(std::string_view key) const;
  template <MetadataScalar T>
  Result<std::vector<T>> get_array(std::string_view key) const;

  // Tensors, in file order (part by part for split models).
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;  // nullptr when missing

  Result<std::string> architecture() const;  // general.architecture

 private:
  File();
  static Result<File> assemble(std::vector<std::unique_ptr<detail::ParsedPart>> parts, std::string path);

  std::string path_;
  std::vector<std::unique_ptr<detail::ParsedPart>> parts_;  // parts_[0] holds the metadata
  std::vector<std::string> split_paths_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;  // keys view tensors_[i].name
};

}  // namespace llama_worker::gguf
