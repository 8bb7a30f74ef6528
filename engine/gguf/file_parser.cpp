// The GGUF parser: one pass over bytes it never copies, checking every field before using it.
//
// Rules (README.md lists them with the malformed-corpus file that pins each):
//   - every read is bounds-checked against the bytes left (Cursor::need); a count is compared
//     with the bytes left divided by the smallest possible record before anything is reserved,
//     so no allocation is ever sized by an unchecked field;
//   - sizes are computed with overflow checks (checked_mul / checked_add);
//   - value and tensor type ids are looked up, never cast blindly;
//   - errors name the file, the byte offset of the field, and the key or tensor concerned.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "gguf/parsed_part.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::gguf::detail {
namespace {

constexpr uint8_t kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint64_t kHeaderBytes = 4 + 4 + 8 + 8;
// Smallest possible records, used to bound counts before reserving:
// key/value: u64 key length + 1 key byte + u32 type + 1 value byte.
constexpr uint64_t kMinKeyValueBytes = 8 + 1 + 4 + 1;
// tensor info: u64 name length + 1 name byte + u32 n_dims + one i64 dim + u32 type + u64 offset.
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool checked_add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }

class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return bytes_.size() - pos_; }
  const uint8_t* here() const { return bytes_.data() + pos_; }

  Error fail_at(uint64_t offset, const std::string& problem) const {
    return make_error(ErrorCode::kMalformedFile, name_ + ": byte " + std::to_string(offset) + ": " + problem);
  }
  Status need(uint64_t count, const std::string& what) const {
    if (count > left()) {
      return fail_at(pos_, what + " needs " + std::to_string(count) + " bytes but only " +
                               std::to_string(left()) + " are left in the file");
    }
    return Status::ok();
  }
  void skip(uint64_t count) { pos_ += count; }  // only after need(count)

  template <class T>
  Result<T> read(const std::string& what) {
    LW_TRY(need(sizeof(T), what));
    T value;
    std::memcpy(&value, here(), sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  // A GGUF string: u64 length + bytes (not NUL-terminated).
  Result<std::string_view> string(const std::string& what, uint64_t max_bytes) {
    const uint64_t at = pos_;
    LW_ASSIGN_OR_RETURN(const uint64_t length, read<uint64_t>(what + " length"));
    if (length > left()) {
      return fail_at(at, what + " length " + std::to_string(length) + " exceeds the " +
                             std::to_string(left()) + " bytes left in the file");
    }
    if (length > max_bytes) {
      return fail_at(at, what + " length " + std::to_string(length) + " exceeds the limit of " +
                             std::to_string(max_bytes) + " bytes");
    }
    std::string_view view(reinterpret_cast<const char*>(here()), length);
    pos_ += length;
    return view;
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

Status check_header(Cursor& cursor, ParsedPart& part, uint64_t* n_tensors, uint64_t* n_kv) {
  const auto bytes = part.bytes;
  if (bytes.size() < 4) {
    return make_error(ErrorCode::kMalformedFile, part.name + ": file is " + std::to_string(bytes.size()) +
                                                     " bytes, too short for the GGUF magic");
  }
  if (std::memcmp(bytes.data(), kMagic, 4) != 0) {
    return make_error(ErrorCode::kMalformedFile,
                      part.name + ": not a GGUF file (magic is '" +
                          printable(std::string_view(reinterpret_cast<const char*>(bytes.data()), 4)) +
                          "', expected 'GGUF')");
  }
  cursor.skip(4);
  LW_ASSIGN_OR_RETURN(const uint32_t version, cursor.read<uint32_t>("version"));
  if (version != 2 && version != 3) {
    const uint32_t swapped = __builtin_bswap32(version);
    std::string problem;
    if (version == 1) {
      problem = "GGUF version 1 is not supported (it used 32-bit counts); only versions 2 and 3 are read";
    } else if (swapped >= 1 && swapped <= 3) {
      problem = "byte-swapped (big-endian) GGUF file: version field reads " + std::to_string(version) +
                " little-endian, " + std::to_string(swapped) +
                " big-endian; only little-endian files are read";
    } else {
      problem = "unknown GGUF version " + std::to_string(version) + "; only versions 2 and 3 are read";
    }
    return make_error(ErrorCode::kUnsupported, part.name + ": byte 4: " + problem);
  }
  part.version = version;
  if (bytes.size() < kHeaderBytes) {
    return cursor.fail_at(8, "header needs " + std::to_string(kHeaderBytes) + " bytes but the file is " +
                                 std::to_string(bytes.size()) + " bytes");
  }
  LW_ASSIGN_OR_RETURN(*n_tensors, cursor.read<uint64_t>("tensor count"));
  LW_ASSIGN_OR_RETURN(*n_kv, cursor.read<uint64_t>("metadata count"));
  if (*n_kv > cursor.left() / kMinKeyValueBytes) {
    return cursor.fail_at(16, "metadata count " + std::to_string(*n_kv) + " cannot fit in the " +
                                  std::to_string(cursor.left()) + " bytes left (each entry takes at least " +
                                  std::to_string(kMinKeyValueBytes) + ")");
  }
  if (*n_tensors > cursor.left() / kMinTensorInfoBytes) {
    return cursor.fail_at(8, "tensor count " + std::to_string(*n_tensors) + " cannot fit in the " +
                                 std::to_string(cursor.left()) +
                                 " bytes left (each tensor info takes at least " +
                                 std::to_string(kMinTensorInfoBytes) + ")");
  }
  return Status::ok();
}

// Reads an array's or scalar's payload of a fixed-size type; checks bools are 0 or 1.
Status read_fixed(Cursor& cursor, ValueType type, uint64_t count, Value& value, const std::string& what) {
  const uint64_t size = value_type_size(type);
  uint64_t total = 0;
  if (!checked_mul(size, count, &total)) {
    return cursor.fail_at(cursor.pos(), what + ": " + std::to_string(count) + " elements of " +
                                            std::string(value_type_name(type)) + " overflow a 64-bit size");
  }
  LW_TRY(cursor.need(total, what));
  value.data = cursor.here();
  if (type == ValueType::kBool) {
    for (uint64_t i = 0; i < count; ++i) {
      if (value.data[i] > 1) {
        return cursor.fail_at(cursor.pos() + i,
                              what + ": bool byte is " + std::to_string(value.data[i]) + ", expected 0 or 1");
      }
    }
  }
  cursor.skip(total);
  return Status::ok();
}

Status read_value(Cursor& cursor, ParsedPart& part, ValueType type, Value& value, const std::string& what) {
  value.type = type;
  value.file_offset = cursor.pos();
  if (type == ValueType::kString) {
    LW_ASSIGN_OR_RETURN(value.string, cursor.string(what + ": string", std::numeric_limits<uint64_t>::max()));
    value.data = reinterpret_cast<const uint8_t*>(value.string.data());
    return Status::ok();
  }
  if (type != ValueType::kArray) return read_fixed(cursor, type, 1, value, what);

  const uint64_t header_at = cursor.pos();
  LW_ASSIGN_OR_RETURN(const uint32_t raw_element, cursor.read<uint32_t>(what + ": array element type"));
  const auto element = value_type_from_raw(raw_element);
  if (!element) {
    return cursor.fail_at(header_at, what + ": unknown array element type " + std::to_string(raw_element));
  }
  if (*element == ValueType::kArray) {
    return cursor.fail_at(header_at, what + ": arrays of arrays are not supported");
  }
  LW_ASSIGN_OR_RETURN(const uint64_t count, cursor.read<uint64_t>(what + ": array length"));
  value.element_type = *element;
  value.count = count;
  if (*element != ValueType::kString) return read_fixed(cursor, *element, count, value, what);

  // Every string takes at least its 8-byte length: bound the count before allocating views.
  if (count > cursor.left() / 8) {
    return cursor.fail_at(header_at + 4, what + ": array of " + std::to_string(count) +
                                             " strings cannot fit in the " + std::to_string(cursor.left()) +
                                             " bytes left");
  }
  value.data = cursor.here();
  auto views = std::make_unique<std::string_view[]>(count);
  for (uint64_t i = 0; i < count; ++i) {
    LW_ASSIGN_OR_RETURN(views[i], cursor.string(what + ": element " + std::to_string(i),
                                                std::numeric_limits<uint64_t>::max()));
  }
  value.strings = views.get();
  part.string_arrays.push_back(std::move(views));
  return Status::ok();
}

Status read_metadata(Cursor& cursor, ParsedPart& part, uint64_t n_kv) {
  part.metadata.reserve(n_kv);
  part.key_index.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    MetadataEntry entry;
    entry.file_offset = cursor.pos();
    LW_ASSIGN_OR_RETURN(entry.key, cursor.string("metadata key " + std::to_string(i), kMaxKeyBytes));
    if (entry.key.empty())
      return cursor.fail_at(entry.file_offset, "metadata key " + std::to_string(i) + " is empty");
    const std::string what = "key '" + printable(entry.key) + "'";
    const uint64_t type_at = cursor.pos();
    LW_ASSIGN_OR_RETURN(const uint32_t raw_type, cursor.read<uint32_t>(what + ": value type"));
    const auto type = value_type_from_raw(raw_type);
    if (!type) return cursor.fail_at(type_at, what + ": unknown value type " + std::to_string(raw_type));
    LW_TRY(read_value(cursor, part, *type, entry.value, what));
    if (!part.key_index.emplace(entry.key, part.metadata.size()).second) {
      return cursor.fail_at(entry.file_offset, "duplicate " + what);
    }
    part.metadata.push_back(entry);
  }
  if (const Value* alignment = part.find("general.alignment")) {
    if (alignment->type != ValueType::kUint32) {
      return cursor.fail_at(
          alignment->file_offset,
          "general.alignment has type " + std::string(value_type_name(alignment->type)) + ", expected u32");
    }
    const uint32_t value = alignment->raw_at<uint32_t>(0);
    if (value == 0 || !std::has_single_bit(value) || value > kMaxAlignment) {
      return cursor.fail_at(alignment->file_offset, "general.alignment " + std::to_string(value) +
                                                        " is not a power of two between 1 and " +
                                                        std::to_string(kMaxAlignment));
    }
    part.alignment = value;
  }
  return Status::ok();
}

Status read_tensor_info(Cursor& cursor, ParsedPart& part, uint64_t index, TensorInfo& info) {
  const uint64_t at = cursor.pos();
  LW_ASSIGN_OR_RETURN(const std::string_view name,
                      cursor.string("tensor " + std::to_string(index) + " name", kMaxTensorNameBytes));
  if (name.empty()) return cursor.fail_at(at, "tensor " + std::to_string(index) + " has an empty name");
  info.name.assign(name);
  const std::string what = "tensor '" + printable(name) + "'";

  const uint64_t dims_at = cursor.pos();
  LW_ASSIGN_OR_RETURN(const uint32_t n_dims, cursor.read<uint32_t>(what + ": n_dims"));
  if (n_dims == 0 || n_dims > kMaxDims) {
    return cursor.fail_at(
        dims_at, what + ": n_dims " + std::to_string(n_dims) + " is outside 1.." + std::to_string(kMaxDims));
  }
  info.shape.resize(n_dims);
  uint64_t elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    const uint64_t dim_at = cursor.pos();
    LW_ASSIGN_OR_RETURN(info.shape[d], cursor.read<int64_t>(what + ": dimension " + std::to_string(d)));
    if (info.shape[d] <= 0) {
      return cursor.fail_at(dim_at, what + ": dimension " + std::to_string(d) + " is " +
                                        std::to_string(info.shape[d]) + ", must be positive");
    }
    if (!checked_mul(elements, static_cast<uint64_t>(info.shape[d]), &elements) ||
        elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return cursor.fail_at(dim_at,
                            what + ": element count overflows int64 at dimension " + std::to_string(d));
    }
  }

  const uint64_t type_at = cursor.pos();
  LW_ASSIGN_OR_RETURN(const uint32_t raw_type, cursor.read<uint32_t>(what + ": type"));
  const auto traits = tensor_type_traits(raw_type);
  if (!traits) return cursor.fail_at(type_at, what + ": unknown ggml type " + std::to_string(raw_type));
  info.type = traits->type;
  auto row = row_bytes(info.type, info.shape[0]);
  if (!row) return cursor.fail_at(dims_at, what + ": " + row.error().message);
  uint64_t size = *row;
  for (uint32_t d = 1; d < n_dims; ++d) {
    if (!checked_mul(size, static_cast<uint64_t>(info.shape[d]), &size)) {
      return cursor.fail_at(dims_at, what + ": byte size overflows 64 bits");
    }
  }
  info.byte_size = size;

  const uint64_t offset_at = cursor.pos();
  LW_ASSIGN_OR_RETURN(info.offset, cursor.read<uint64_t>(what + ": data offset"));
  if (info.offset % part.alignment != 0) {
    return cursor.fail_at(offset_at, what + ": data offset " + std::to_string(info.offset) +
                                         " is not a multiple of the alignment " +
                                         std::to_string(part.alignment));
  }
  return Status::ok();
}

Status read_tensors(Cursor& cursor, ParsedPart& part, uint64_t n_tensors) {
  part.tensors.resize(n_tensors);
  std::unordered_map<std::string_view, uint64_t> names;
  names.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const uint64_t at = cursor.pos();
    LW_TRY(read_tensor_info(cursor, part, i, part.tensors[i]));
    if (!names.emplace(part.tensors[i].name, i).second) {
      return cursor.fail_at(at, "duplicate tensor name '" + printable(part.tensors[i].name) + "'");
    }
  }

  // The data section starts at the next multiple of the alignment after the tensor table.
  const uint64_t table_end = cursor.pos();
  uint64_t data_offset = 0;
  if (!checked_add(table_end, part.alignment - 1, &data_offset)) {
    return cursor.fail_at(table_end, "data section offset overflows");
  }
  data_offset -= data_offset % part.alignment;
  part.data_offset = data_offset;
  const uint64_t file_size = part.bytes.size();
  if (n_tensors == 0) return Status::ok();  // weightless files may end without the padding
  if (data_offset > file_size) {
    return cursor.fail_at(table_end, "data section would start at byte " + std::to_string(data_offset) +
                                         ", past the end of the file (" + std::to_string(file_size) +
                                         " bytes)");
  }
  const uint64_t data_bytes = file_size - data_offset;
  for (auto& info : part.tensors) {
    uint64_t end = 0;
    if (!checked_add(info.offset, info.byte_size, &end) || end > data_bytes) {
      return make_error(ErrorCode::kMalformedFile,
                        part.name + ": tensor '" + printable(info.name) + "': data at offset " +
                            std::to_string(info.offset) + " + " + std::to_string(info.byte_size) +
                            " bytes runs past the end of the data section (" + std::to_string(data_bytes) +
                            " bytes from byte " + std::to_string(data_offset) + ")");
    }
    info.file_offset = data_offset + info.offset;
    info.data = part.bytes.data() + info.file_offset;
  }
  std::vector<size_t> order(part.tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return part.tensors[a].offset < part.tensors[b].offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorInfo& before = part.tensors[order[i - 1]];
    const TensorInfo& after = part.tensors[order[i]];
    if (before.offset + before.byte_size > after.offset) {
      return make_error(ErrorCode::kMalformedFile, part.name + ": tensor '" + printable(after.name) +
                                                       "' (data offset " + std::to_string(after.offset) +
                                                       ") overlaps tensor '" + printable(before.name) +
                                                       "' (offset " + std::to_string(before.offset) + ", " +
                                                       std::to_string(before.byte_size) + " bytes)");
    }
  }
  return Status::ok();
}

}  // namespace

std::string printable(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const size_t shown = std::min(text.size(), max_bytes);
  out.reserve(shown + 8);
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (shown < text.size()) out += "...";
  return out;
}

Status parse_part(ParsedPart& part) {
  Cursor cursor(part.bytes, part.name);
  uint64_t n_tensors = 0;
  uint64_t n_kv = 0;
  LW_TRY(check_header(cursor, part, &n_tensors, &n_kv));
  LW_TRY(read_metadata(cursor, part, n_kv));
  LW_TRY(read_tensors(cursor, part, n_tensors));
  return Status::ok();
}

}  // namespace llama_worker::gguf::detail
