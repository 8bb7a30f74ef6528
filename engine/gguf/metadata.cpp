// GGUF value type traits (name, fixed byte width), indexed by the type id from the file.
#include "gguf/metadata.hpp"

#include <array>

namespace llama_worker::gguf {
namespace {

struct ValueTypeTraits {
  std::string_view name;
  uint64_t size;  // 0: variable (string, array)
};

// Indexed by the GGUF type id.
constexpr std::array<ValueTypeTraits, kValueTypeCount> kValueTypes = {{
    {"u8", 1},
    {"i8", 1},
    {"u16", 2},
    {"i16", 2},
    {"u32", 4},
    {"i32", 4},
    {"f32", 4},
    {"bool", 1},
    {"str", 0},
    {"arr", 0},
    {"u64", 8},
    {"i64", 8},
    {"f64", 8},
}};

}  // namespace

std::optional<ValueType> value_type_from_raw(uint32_t raw) {
  if (raw >= kValueTypeCount) return std::nullopt;
  return static_cast<ValueType>(raw);
}

std::string_view value_type_name(ValueType type) {
  const auto index = static_cast<uint32_t>(type);
  return index < kValueTypeCount ? kValueTypes[index].name : std::string_view("?");
}

uint64_t value_type_size(ValueType type) {
  const auto index = static_cast<uint32_t>(type);
  return index < kValueTypeCount ? kValueTypes[index].size : 0;
}

}  // namespace llama_worker::gguf
