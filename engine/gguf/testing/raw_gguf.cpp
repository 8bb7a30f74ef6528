#include "gguf/testing/raw_gguf.hpp"

#include <algorithm>
#include <cstring>

#include "gguf/byte_append.hpp"

namespace llama_worker::gguf::testing {
namespace {

using bytes::append;
using bytes::append_bytes;
using bytes::append_string;

// The payload bytes of a validated value (what follows its type id, or its array header).
std::vector<uint8_t> payload_of(const Value& value) {
  std::vector<uint8_t> out;
  const ValueType scalar = value.scalar_type();
  if (scalar == ValueType::kString) {
    for (uint64_t i = 0; i < value.count; ++i) append_string(out, value.string_at(i));
  } else {
    out.assign(value.data, value.data + value.count * value_type_size(scalar));
  }
  return out;
}

template <class T>
void copy_value(Writer& writer, const std::string& key, const Value& value, uint64_t limit) {
  if (value.is_array()) {
    std::vector<T> values;
    const uint64_t count = std::min(value.count, limit);
    values.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      if constexpr (std::is_same_v<T, std::string>) {
        values.emplace_back(value.string_at(i));
      } else if constexpr (std::is_same_v<T, bool>) {
        values.push_back(value.raw_at<uint8_t>(i) != 0);
      } else {
        values.push_back(value.raw_at<T>(i));
      }
    }
    writer.set(key, values);
  } else if constexpr (std::is_same_v<T, std::string>) {
    writer.set(key, std::string(value.string));
  } else if constexpr (std::is_same_v<T, bool>) {
    writer.set(key, value.raw_at<uint8_t>(0) != 0);
  } else {
    writer.set(key, value.raw_at<T>(0));
  }
}

}  // namespace

template <class T>
RawValue raw_scalar(uint32_t type, T value) {
  RawValue raw;
  raw.type = type;
  append<T>(raw.payload, value);
  return raw;
}
template RawValue raw_scalar<uint8_t>(uint32_t, uint8_t);
template RawValue raw_scalar<uint16_t>(uint32_t, uint16_t);
template RawValue raw_scalar<uint32_t>(uint32_t, uint32_t);
template RawValue raw_scalar<int32_t>(uint32_t, int32_t);
template RawValue raw_scalar<uint64_t>(uint32_t, uint64_t);
template RawValue raw_scalar<int64_t>(uint32_t, int64_t);
template RawValue raw_scalar<float>(uint32_t, float);
template RawValue raw_scalar<double>(uint32_t, double);

RawValue raw_u8(uint8_t value) { return raw_scalar<uint8_t>(0, value); }
RawValue raw_u32(uint32_t value) { return raw_scalar<uint32_t>(4, value); }
RawValue raw_i32(int32_t value) { return raw_scalar<int32_t>(5, value); }
RawValue raw_u64(uint64_t value) { return raw_scalar<uint64_t>(10, value); }
RawValue raw_f32(float value) { return raw_scalar<float>(6, value); }
RawValue raw_bool_byte(uint8_t byte) { return raw_scalar<uint8_t>(7, byte); }

RawValue raw_string(std::string_view text) {
  RawValue raw;
  raw.type = 8;
  append_string(raw.payload, text);
  return raw;
}

RawValue raw_u32_array(const std::vector<uint32_t>& values) {
  RawValue raw;
  raw.type = 9;
  raw.element_type = 4;
  raw.count = values.size();
  for (uint32_t value : values) append<uint32_t>(raw.payload, value);
  return raw;
}

RawValue raw_string_array(const std::vector<std::string>& values) {
  RawValue raw;
  raw.type = 9;
  raw.element_type = 8;
  raw.count = values.size();
  for (const auto& value : values) append_string(raw.payload, value);
  return raw;
}

RawGguf& RawGguf::add(std::string key, RawValue value) {
  metadata.push_back(RawKeyValue{std::move(key), std::move(value), std::nullopt});
  return *this;
}

std::vector<uint8_t> RawGguf::serialize() const {
  std::vector<uint8_t> out;
  append_bytes(out, magic.data(), std::min<size_t>(magic.size(), 4));
  append<uint32_t>(out, version);
  append<uint64_t>(out, n_tensors.value_or(tensors.size()));
  append<uint64_t>(out, n_kv.value_or(metadata.size()));
  for (const RawKeyValue& entry : metadata) {
    append_string(out, entry.key, entry.key_length);
    append<uint32_t>(out, entry.value.type);
    if (entry.value.type == 9) {
      append<uint32_t>(out, entry.value.element_type);
      append<uint64_t>(out, entry.value.count);
    }
    append_bytes(out, entry.value.payload.data(), entry.value.payload.size());
  }
  for (const RawTensor& tensor : tensors) {
    append_string(out, tensor.name, tensor.name_length);
    append<uint32_t>(out, tensor.n_dims.value_or(static_cast<uint32_t>(tensor.dims.size())));
    for (int64_t dim : tensor.dims) append<int64_t>(out, dim);
    append<uint32_t>(out, tensor.type);
    append<uint64_t>(out, tensor.offset);
  }
  if (pad_to > 1) {
    while (out.size() % pad_to != 0) out.push_back(0);
  }
  append_bytes(out, data.data(), data.size());
  return out;
}

RawGguf to_raw(const File& file) {
  RawGguf raw;
  raw.version = file.version();
  raw.pad_to = file.alignment();
  for (const MetadataEntry& entry : file.metadata()) {
    RawValue value;
    value.type = static_cast<uint32_t>(entry.value.type);
    if (entry.value.is_array()) {
      value.element_type = static_cast<uint32_t>(entry.value.element_type);
      value.count = entry.value.count;
    }
    value.payload = payload_of(entry.value);
    raw.metadata.push_back(RawKeyValue{std::string(entry.key), std::move(value), std::nullopt});
  }
  uint64_t data_end = 0;
  for (const TensorInfo& info : file.tensors()) {
    if (info.split != 0) continue;  // only part 0's tensors live in this file's data section
    RawTensor tensor;
    tensor.name = info.name;
    tensor.dims = info.shape;
    tensor.type = static_cast<uint32_t>(info.type);
    tensor.offset = info.offset;
    raw.tensors.push_back(std::move(tensor));
    data_end = std::max(data_end, info.offset + info.byte_size);
  }
  if (!raw.tensors.empty()) {
    const uint8_t* start = file.tensors().front().data - file.tensors().front().offset;
    raw.data.assign(start, start + data_end);
  }
  return raw;
}

Writer to_writer(const File& file, uint64_t max_array_elements) {
  Writer writer;
  writer.set_version(file.version());
  for (const MetadataEntry& entry : file.metadata()) {
    const std::string key(entry.key);
    switch (entry.value.scalar_type()) {
      case ValueType::kUint8:
        copy_value<uint8_t>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kInt8:
        copy_value<int8_t>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kUint16:
        copy_value<uint16_t>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kInt16:
        copy_value<int16_t>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kUint32:
        copy_value<uint32_t>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kInt32:
        copy_value<int32_t>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kUint64:
        copy_value<uint64_t>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kInt64:
        copy_value<int64_t>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kFloat32:
        copy_value<float>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kFloat64:
        copy_value<double>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kBool:
        copy_value<bool>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kString:
        copy_value<std::string>(writer, key, entry.value, max_array_elements);
        break;
      case ValueType::kArray:
        break;  // the reader never lets an array of arrays through
    }
  }
  for (const TensorInfo& info : file.tensors()) {
    writer.add_tensor(info.name, info.type, info.shape,
                      std::vector<uint8_t>(info.data, info.data + info.byte_size));
  }
  return writer;
}

std::string files_differ(const File& a, const File& b) {
  if (a.metadata().size() != b.metadata().size()) {
    return "metadata count " + std::to_string(a.metadata().size()) + " vs " +
           std::to_string(b.metadata().size());
  }
  for (size_t i = 0; i < a.metadata().size(); ++i) {
    const MetadataEntry& x = a.metadata()[i];
    const MetadataEntry& y = b.metadata()[i];
    const std::string where = "metadata entry " + std::to_string(i) + " ('" + std::string(x.key) + "')";
    if (x.key != y.key) return where + ": key differs";
    if (x.value.type != y.value.type || x.value.count != y.value.count ||
        (x.value.is_array() && x.value.element_type != y.value.element_type)) {
      return where + ": type or count differs";
    }
    if (payload_of(x.value) != payload_of(y.value)) return where + ": value differs";
  }
  if (a.tensors().size() != b.tensors().size()) return "tensor count differs";
  for (const TensorInfo& x : a.tensors()) {
    const TensorInfo* y = b.find_tensor(x.name);
    if (y == nullptr) return "tensor '" + x.name + "' missing";
    if (x.type != y->type || x.shape != y->shape || x.byte_size != y->byte_size) {
      return "tensor '" + x.name + "': type or shape differs";
    }
    if (std::memcmp(x.data, y->data, x.byte_size) != 0) return "tensor '" + x.name + "': data differs";
  }
  return {};
}

}  // namespace llama_worker::gguf::testing
