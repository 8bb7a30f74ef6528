#include "model/synthetic/metadata_copy.hpp"

#include <string>
#include <vector>

namespace llama_worker::synthetic {
namespace {

using gguf::Value;
using gguf::ValueType;

template <class T>
void copy_typed(gguf::Writer& writer, std::string key, const Value& value) {
  if (!value.is_array()) {
    if constexpr (std::is_same_v<T, std::string>) {
      writer.set(std::move(key), std::string(value.string));
    } else if constexpr (std::is_same_v<T, bool>) {
      writer.set(std::move(key), value.raw_at<uint8_t>(0) != 0);
    } else {
      writer.set(std::move(key), value.raw_at<T>(0));
    }
    return;
  }
  std::vector<T> elements;
  elements.reserve(value.count);
  for (uint64_t i = 0; i < value.count; ++i) {
    if constexpr (std::is_same_v<T, std::string>) {
      elements.emplace_back(value.string_at(i));
    } else if constexpr (std::is_same_v<T, bool>) {
      elements.push_back(value.raw_at<uint8_t>(i) != 0);
    } else {
      elements.push_back(value.raw_at<T>(i));
    }
  }
  writer.set(std::move(key), elements);
}

}  // namespace

Status copy_metadata(const gguf::File& source, gguf::Writer& writer) {
  for (const gguf::MetadataEntry& entry : source.metadata()) {
    std::string key(entry.key);
    switch (entry.value.scalar_type()) {
      case ValueType::kUint8:
        copy_typed<uint8_t>(writer, key, entry.value);
        break;
      case ValueType::kInt8:
        copy_typed<int8_t>(writer, key, entry.value);
        break;
      case ValueType::kUint16:
        copy_typed<uint16_t>(writer, key, entry.value);
        break;
      case ValueType::kInt16:
        copy_typed<int16_t>(writer, key, entry.value);
        break;
      case ValueType::kUint32:
        copy_typed<uint32_t>(writer, key, entry.value);
        break;
      case ValueType::kInt32:
        copy_typed<int32_t>(writer, key, entry.value);
        break;
      case ValueType::kUint64:
        copy_typed<uint64_t>(writer, key, entry.value);
        break;
      case ValueType::kInt64:
        copy_typed<int64_t>(writer, key, entry.value);
        break;
      case ValueType::kFloat32:
        copy_typed<float>(writer, key, entry.value);
        break;
      case ValueType::kFloat64:
        copy_typed<double>(writer, key, entry.value);
        break;
      case ValueType::kBool:
        copy_typed<bool>(writer, key, entry.value);
        break;
      case ValueType::kString:
        copy_typed<std::string>(writer, key, entry.value);
        break;
      case ValueType::kArray:
        return make_error(ErrorCode::kUnsupported,
                          source.path() + ": key '" + key + "' is an array of arrays");
    }
  }
  return Status::ok();
}

}  // namespace llama_worker::synthetic
