// GGUF writer (see writer.hpp): serializes metadata as values are set, tensors at to_bytes().
#include "gguf/writer.hpp"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_set>

#include "gguf/byte_append.hpp"

namespace llama_worker::gguf {
namespace {

using bytes::append;
using bytes::append_bytes;
using bytes::append_string;

template <class T>
constexpr ValueType value_type_of() {
  if constexpr (std::is_same_v<T, uint8_t>)
    return ValueType::kUint8;
  else if constexpr (std::is_same_v<T, int8_t>)
    return ValueType::kInt8;
  else if constexpr (std::is_same_v<T, uint16_t>)
    return ValueType::kUint16;
  else if constexpr (std::is_same_v<T, int16_t>)
    return ValueType::kInt16;
  else if constexpr (std::is_same_v<T, uint32_t>)
    return ValueType::kUint32;
  else if constexpr (std::is_same_v<T, int32_t>)
    return ValueType::kInt32;
  else if constexpr (std::is_same_v<T, uint64_t>)
    return ValueType::kUint64;
  else if constexpr (std::is_same_v<T, int64_t>)
    return ValueType::kInt64;
  else if constexpr (std::is_same_v<T, float>)
    return ValueType::kFloat32;
  else if constexpr (std::is_same_v<T, double>)
    return ValueType::kFloat64;
  else if constexpr (std::is_same_v<T, bool>)
    return ValueType::kBool;
  else
    return ValueType::kString;
}

template <class T>
void append_scalar(std::vector<uint8_t>& out, const T& value) {
  if constexpr (std::is_same_v<T, std::string>) {
    append_string(out, value);
  } else if constexpr (std::is_same_v<T, bool>) {
    out.push_back(value ? 1 : 0);
  } else {
    append<T>(out, value);
  }
}

void pad_to(std::vector<uint8_t>& out, uint64_t alignment) {
  while (out.size() % alignment != 0) out.push_back(0);
}

}  // namespace

template <MetadataScalar T>
void Writer::set(std::string key, T value) {
  Entry entry;
  entry.key = std::move(key);
  entry.type = value_type_of<T>();
  append_scalar(entry.payload, value);
  put(std::move(entry));
}

template <MetadataScalar T>
void Writer::set(std::string key, const std::vector<T>& values) {
  Entry entry;
  entry.key = std::move(key);
  entry.type = ValueType::kArray;
  entry.element_type = value_type_of<T>();
  entry.count = values.size();
  for (const auto& value : values) append_scalar<T>(entry.payload, value);
  put(std::move(entry));
}

void Writer::put(Entry entry) {
  if (entry.key.empty() && first_error_.empty()) first_error_ = "metadata key is empty";
  if (entry.key == "general.alignment") {
    uint32_t value = 0;
    if (entry.type == ValueType::kUint32) std::memcpy(&value, entry.payload.data(), sizeof(value));
    if (value == 0 || !std::has_single_bit(value) || value > kMaxAlignment) {
      if (first_error_.empty()) {
        first_error_ =
            "general.alignment must be a u32 power of two between 1 and " + std::to_string(kMaxAlignment);
      }
      return;
    }
    alignment_ = value;
  }
  for (Entry& existing : entries_) {
    if (existing.key == entry.key) {
      existing = std::move(entry);
      return;
    }
  }
  entries_.push_back(std::move(entry));
}

void Writer::erase(std::string_view key) {
  std::erase_if(entries_, [&](const Entry& entry) { return entry.key == key; });
  if (key == "general.alignment") alignment_ = kDefaultAlignment;
}

void Writer::set_alignment(uint32_t alignment) {
  if (alignment == 0 || !std::has_single_bit(alignment) || alignment > kMaxAlignment) {
    if (first_error_.empty()) {
      first_error_ = "alignment " + std::to_string(alignment) + " is not a power of two between 1 and " +
                     std::to_string(kMaxAlignment);
    }
    return;
  }
  alignment_ = alignment;
  Entry entry;
  entry.key = "general.alignment";
  entry.type = ValueType::kUint32;
  append<uint32_t>(entry.payload, alignment);
  for (Entry& existing : entries_) {
    if (existing.key == entry.key) {
      existing = std::move(entry);
      return;
    }
  }
  if (alignment != kDefaultAlignment) entries_.push_back(std::move(entry));
}

void Writer::set_version(uint32_t version) {
  if (version != 2 && version != 3) {
    if (first_error_.empty()) first_error_ = "GGUF version " + std::to_string(version) + " cannot be written";
    return;
  }
  version_ = version;
}

void Writer::add_tensor(std::string name, TensorType type, std::vector<int64_t> shape,
                        std::vector<uint8_t> bytes) {
  tensors_.push_back(PendingTensor{std::move(name), type, std::move(shape), std::move(bytes)});
}

Result<std::vector<uint8_t>> Writer::to_bytes() const {
  if (!first_error_.empty()) return make_error(ErrorCode::kInvalidArgument, "gguf writer: " + first_error_);
  std::unordered_set<std::string_view> names;
  std::vector<uint64_t> offsets;
  uint64_t data_size = 0;
  for (const PendingTensor& tensor : tensors_) {
    const std::string what = "gguf writer: tensor '" + tensor.name + "': ";
    if (tensor.name.empty() || tensor.name.size() > kMaxTensorNameBytes) {
      return make_error(ErrorCode::kInvalidArgument,
                        what + "name must be 1.." + std::to_string(kMaxTensorNameBytes) + " bytes");
    }
    if (!names.insert(tensor.name).second)
      return make_error(ErrorCode::kInvalidArgument, what + "duplicate name");
    if (tensor.shape.empty() || tensor.shape.size() > kMaxDims) {
      return make_error(ErrorCode::kInvalidArgument,
                        what + "needs 1.." + std::to_string(kMaxDims) + " dimensions");
    }
    uint64_t size = 0;
    for (size_t d = 0; d < tensor.shape.size(); ++d) {
      if (tensor.shape[d] <= 0)
        return make_error(ErrorCode::kInvalidArgument, what + "dimensions must be positive");
      if (d == 0) {
        LW_ASSIGN_OR_RETURN(size, row_bytes(tensor.type, tensor.shape[0]));
      } else if (__builtin_mul_overflow(size, static_cast<uint64_t>(tensor.shape[d]), &size)) {
        return make_error(ErrorCode::kInvalidArgument, what + "size overflows");
      }
    }
    if (size != tensor.bytes.size()) {
      return make_error(ErrorCode::kInvalidArgument, what + "has " + std::to_string(tensor.bytes.size()) +
                                                         " bytes, its shape needs " + std::to_string(size));
    }
    data_size = (data_size + alignment_ - 1) / alignment_ * alignment_;
    offsets.push_back(data_size);
    data_size += size;
  }

  std::vector<uint8_t> out;
  append_bytes(out, "GGUF", 4);
  append<uint32_t>(out, version_);
  append<uint64_t>(out, tensors_.size());
  append<uint64_t>(out, entries_.size());
  for (const Entry& entry : entries_) {
    append_string(out, entry.key);
    append<uint32_t>(out, static_cast<uint32_t>(entry.type));
    if (entry.type == ValueType::kArray) {
      append<uint32_t>(out, static_cast<uint32_t>(entry.element_type));
      append<uint64_t>(out, entry.count);
    }
    append_bytes(out, entry.payload.data(), entry.payload.size());
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const PendingTensor& tensor = tensors_[i];
    append_string(out, tensor.name);
    append<uint32_t>(out, static_cast<uint32_t>(tensor.shape.size()));
    for (int64_t dim : tensor.shape) append<int64_t>(out, dim);
    append<uint32_t>(out, static_cast<uint32_t>(tensor.type));
    append<uint64_t>(out, offsets[i]);
  }
  pad_to(out, alignment_);
  const size_t data_start = out.size();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    out.resize(data_start + offsets[i], 0);
    append_bytes(out, tensors_[i].bytes.data(), tensors_[i].bytes.size());
  }
  if (!tensors_.empty()) pad_to(out, alignment_);
  return out;
}

Status Writer::write(const std::string& path) const {
  LW_ASSIGN_OR_RETURN(const auto bytes, to_bytes());
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file) return make_error(ErrorCode::kIoError, path + ": cannot create: " + std::strerror(errno));
  if (std::fwrite(bytes.data(), 1, bytes.size(), file.get()) != bytes.size()) {
    return make_error(ErrorCode::kIoError, path + ": write failed: " + std::strerror(errno));
  }
  if (std::fclose(file.release()) != 0) return make_error(ErrorCode::kIoError, path + ": close failed");
  return Status::ok();
}

#define LW_GGUF_INSTANTIATE(T)                            \
  template void Writer::set<T>(std::string key, T value); \
  template void Writer::set<T>(std::string key, const std::vector<T>& values);
LW_GGUF_FOR_EACH_CPP_VALUE_TYPE(LW_GGUF_INSTANTIATE)
#undef LW_GGUF_INSTANTIATE

}  // namespace llama_worker::gguf
