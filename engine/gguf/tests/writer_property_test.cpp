// RapidCheck property: read(write(x)) == x over random metadata (every value type, scalars and
// arrays, empty arrays, arbitrary key and string bytes) and random tensor tables (every ggml
// type, 1..4 dimensions, random bytes), random alignment and version. The expectation is the
// generated model itself, compared byte for byte with what the reader returns.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "gguf/file.hpp"
#include "gguf/testing/raw_gguf.hpp"
#include "gguf/writer.hpp"

namespace llama_worker::gguf {
namespace {

struct ModelEntry {
  std::string key;
  ValueType type = ValueType::kUint8;  // scalar type, or element type of an array
  bool is_array = false;
  std::vector<std::string> elements;  // raw little-endian bytes per element, or string bytes
};

struct ModelTensor {
  std::string name;
  TensorType type = TensorType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

constexpr ValueType kScalarTypes[] = {ValueType::kUint8,   ValueType::kInt8,   ValueType::kUint16,
                                      ValueType::kInt16,   ValueType::kUint32, ValueType::kInt32,
                                      ValueType::kFloat32, ValueType::kBool,   ValueType::kString,
                                      ValueType::kUint64,  ValueType::kInt64,  ValueType::kFloat64};

std::string random_bytes(size_t count) {
  const auto bytes = *rc::gen::container<std::string>(count, rc::gen::arbitrary<char>());
  return bytes;
}

std::string random_element(ValueType type) {
  if (type == ValueType::kString) {
    const size_t length = *rc::gen::inRange<size_t>(0, 24);
    return random_bytes(length);
  }
  if (type == ValueType::kBool) return std::string(1, *rc::gen::element<char>(0, 1));
  return random_bytes(value_type_size(type));
}

template <class T>
T from_raw(const std::string& raw) {
  T value;
  std::memcpy(&value, raw.data(), sizeof(T));
  return value;
}

template <class T>
void set_typed(Writer& writer, const ModelEntry& entry) {
  const auto convert = [](const std::string& raw) -> T {
    if constexpr (std::is_same_v<T, std::string>) {
      return raw;
    } else if constexpr (std::is_same_v<T, bool>) {
      return raw[0] != 0;
    } else {
      return from_raw<T>(raw);
    }
  };
  if (entry.is_array) {
    std::vector<T> values;
    for (const auto& raw : entry.elements) values.push_back(convert(raw));
    writer.set(entry.key, values);
  } else {
    writer.set(entry.key, convert(entry.elements[0]));
  }
}

void set_entry(Writer& writer, const ModelEntry& entry) {
  switch (entry.type) {
    case ValueType::kUint8:
      set_typed<uint8_t>(writer, entry);
      break;
    case ValueType::kInt8:
      set_typed<int8_t>(writer, entry);
      break;
    case ValueType::kUint16:
      set_typed<uint16_t>(writer, entry);
      break;
    case ValueType::kInt16:
      set_typed<int16_t>(writer, entry);
      break;
    case ValueType::kUint32:
      set_typed<uint32_t>(writer, entry);
      break;
    case ValueType::kInt32:
      set_typed<int32_t>(writer, entry);
      break;
    case ValueType::kUint64:
      set_typed<uint64_t>(writer, entry);
      break;
    case ValueType::kInt64:
      set_typed<int64_t>(writer, entry);
      break;
    case ValueType::kFloat32:
      set_typed<float>(writer, entry);
      break;
    case ValueType::kFloat64:
      set_typed<double>(writer, entry);
      break;
    case ValueType::kBool:
      set_typed<bool>(writer, entry);
      break;
    case ValueType::kString:
      set_typed<std::string>(writer, entry);
      break;
    case ValueType::kArray:
      break;
  }
}

std::string element_as_read(const Value& value, uint64_t i) {
  const ValueType type = value.scalar_type();
  if (type == ValueType::kString) return std::string(value.string_at(i));
  const uint64_t size = value_type_size(type);
  return std::string(reinterpret_cast<const char*>(value.data + i * size), size);
}

RC_GTEST_PROP(GgufWriterProperty, ReadOfWriteIsIdentity, ()) {
  Writer writer;
  const uint32_t alignment = uint32_t{1} << *rc::gen::inRange<uint32_t>(0, 13);  // 1..4096
  const uint32_t version = *rc::gen::element<uint32_t>(2, 3);
  writer.set_version(version);
  writer.set_alignment(alignment);

  std::vector<ModelEntry> entries;
  std::set<std::string> keys{"general.alignment"};
  const size_t n_entries = *rc::gen::inRange<size_t>(0, 12);
  for (size_t i = 0; i < n_entries; ++i) {
    ModelEntry entry;
    entry.key = random_bytes(*rc::gen::inRange<size_t>(1, 40));
    if (!keys.insert(entry.key).second) continue;
    entry.type =
        *rc::gen::elementOf(std::vector<ValueType>(std::begin(kScalarTypes), std::end(kScalarTypes)));
    entry.is_array = *rc::gen::arbitrary<bool>();
    const size_t count = entry.is_array ? *rc::gen::inRange<size_t>(0, 20) : 1;
    for (size_t e = 0; e < count; ++e) entry.elements.push_back(random_element(entry.type));
    set_entry(writer, entry);
    entries.push_back(std::move(entry));
  }

  std::vector<ModelTensor> tensors;
  const size_t n_tensors = *rc::gen::inRange<size_t>(0, 6);
  for (size_t i = 0; i < n_tensors; ++i) {
    ModelTensor tensor;
    tensor.name = "t" + std::to_string(i) + "." + random_bytes(*rc::gen::inRange<size_t>(0, 40));
    std::optional<TensorTypeTraits> traits;
    while (!traits) traits = tensor_type_traits(*rc::gen::inRange<uint32_t>(0, 40));
    tensor.type = traits->type;
    const size_t dims = *rc::gen::inRange<size_t>(1, 5);
    tensor.shape.push_back(traits->block_size * *rc::gen::inRange<int64_t>(1, 4));
    for (size_t d = 1; d < dims; ++d) tensor.shape.push_back(*rc::gen::inRange<int64_t>(1, 4));
    uint64_t size = *row_bytes(tensor.type, tensor.shape[0]);
    for (size_t d = 1; d < dims; ++d) size *= static_cast<uint64_t>(tensor.shape[d]);
    const std::string bytes = random_bytes(size);
    tensor.bytes.assign(bytes.begin(), bytes.end());
    writer.add_tensor(tensor.name, tensor.type, tensor.shape, tensor.bytes);
    tensors.push_back(std::move(tensor));
  }

  auto bytes = writer.to_bytes();
  RC_ASSERT(bytes.is_ok());
  auto file = File::from_bytes(*bytes, "property.gguf");
  if (!file) RC_FAIL(file.error().message);
  RC_ASSERT(file->version() == version);
  RC_ASSERT(file->alignment() == alignment);

  // general.alignment is written (first) only when it is not the default.
  const size_t offset = alignment == kDefaultAlignment ? 0 : 1;
  RC_ASSERT(file->metadata().size() == entries.size() + offset);
  for (size_t i = 0; i < entries.size(); ++i) {
    const MetadataEntry& read = file->metadata()[i + offset];
    const ModelEntry& expected = entries[i];
    RC_ASSERT(std::string(read.key) == expected.key);
    RC_ASSERT(read.value.is_array() == expected.is_array);
    RC_ASSERT(read.value.scalar_type() == expected.type);
    RC_ASSERT(read.value.count == expected.elements.size());
    for (size_t e = 0; e < expected.elements.size(); ++e)
      RC_ASSERT(element_as_read(read.value, e) == expected.elements[e]);
  }
  RC_ASSERT(file->tensors().size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& read = file->tensors()[i];
    RC_ASSERT(read.name == tensors[i].name);
    RC_ASSERT(read.type == tensors[i].type);
    RC_ASSERT(read.shape == tensors[i].shape);
    RC_ASSERT(read.byte_size == tensors[i].bytes.size());
    RC_ASSERT(read.offset % alignment == 0);
    RC_ASSERT(std::memcmp(read.data, tensors[i].bytes.data(), read.byte_size) == 0);
  }

  // And the File -> Writer copy used by the fuzzers round-trips too.
  auto again = testing::to_writer(*file).to_bytes();
  RC_ASSERT(again.is_ok());
  auto reread = File::from_bytes(*again, "again.gguf");
  RC_ASSERT(reread.is_ok());
  RC_ASSERT(testing::files_differ(*file, *reread).empty());
}

}  // namespace
}  // namespace llama_worker::gguf
