// GGUF metadata values: the 13 value types and a read-only view of one value as it lies in the
// file. Nothing is copied: a Value points into the File's mapping (and, for arrays of strings,
// into an index of string views the File builds while validating). A Value is valid while the
// File that produced it lives (moving the File keeps it valid; the mapping does not move).
//
// Invariants established by the reader before a Value is handed out:
//   - type is one of the 13 GGUF types; an array's element_type is never kArray;
//   - every byte a Value refers to lies inside the mapping;
//   - fixed-size payloads are count * value_type_size(element type) bytes (overflow-checked);
//   - bool bytes are 0 or 1.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace llama_worker::gguf {

// GGUF's gguf_type ids.
enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// Calls X(T) for each C++ type a scalar or array value reads as and writes from (the typed
// accessors of File and the setters of Writer are instantiated for exactly these).
// Left unformatted: clang-format 14 reflows this list differently on each pass (never stable).
// clang-format off
#define LW_GGUF_FOR_EACH_CPP_VALUE_TYPE(X) \
  X(uint8_t) X(int8_t) X(uint16_t) X(int16_t) X(uint32_t) X(int32_t) X(uint64_t) X(int64_t) X(float) X(double) \
  X(bool) X(std::string)
// clang-format on

inline constexpr uint32_t kValueTypeCount = 13;

// The type of a raw id from a file; nullopt when the id is not one of the 13.
std::optional<ValueType> value_type_from_raw(uint32_t raw);
// Short name as gguf-dump prints it: "u8", "i32", "f32", "bool", "str", "arr", "f64" ...
std::string_view value_type_name(ValueType type);
// Bytes of one value of a fixed-size type; 0 for kString and kArray.
uint64_t value_type_size(ValueType type);

// One metadata value, viewed in place.
struct Value {
  ValueType type = ValueType::kUint8;
  ValueType element_type = ValueType::kUint8;  // arrays only: the type of every element
  uint64_t count = 1;                          // arrays: element count; scalars and strings: 1
  const uint8_t* data = nullptr;               // scalars: the value's bytes; fixed-size arrays: element 0
  std::string_view string;                     // kString only
  const std::string_view* strings = nullptr;   // arrays of strings: `count` views (owned by the File)
  uint64_t file_offset = 0;                    // byte offset of the value (after its type id) in its file

  bool is_array() const { return type == ValueType::kArray; }
  // The scalar type of this value or of its elements.
  ValueType scalar_type() const { return is_array() ? element_type : type; }

  // Element i of a fixed-size array (or the scalar itself for i == 0), as stored. The caller
  // checks the type; the read is a memcpy (file data is not aligned).
  template <class T>
  T raw_at(uint64_t i) const {
    T out;
    std::memcpy(&out, data + i * sizeof(T), sizeof(T));
    return out;
  }
  std::string_view string_at(uint64_t i) const { return is_array() ? strings[i] : string; }
};

// A key and its value, in file order.
struct MetadataEntry {
  std::string_view key;  // UTF-8 bytes of the key as stored (not NUL-terminated)
  Value value;
  uint64_t file_offset = 0;  // where the key's length field starts
};

}  // namespace llama_worker::gguf
