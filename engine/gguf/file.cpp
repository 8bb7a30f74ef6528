// File: opening (mmap), split-model assembly, and typed metadata access. Parsing and validation
// live in file_parser.cpp; this file only combines validated parts.
//
// Split models: a part whose split.count is N > 1 must be named PREFIX-KKKKK-of-NNNNN.gguf
// (llama.cpp's gguf-split naming, 1-based, 5 digits); open() maps every sibling part, checks
// each one's split.no and split.count, and that tensor names are unique across parts and
// split.tensors.count (when present) matches their total.
#include "gguf/file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "gguf/parsed_part.hpp"

namespace llama_worker::gguf {
namespace detail {

Result<MappedFile> MappedFile::map(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    return make_error(error == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                      path + ": cannot open: " + std::strerror(error));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return make_error(ErrorCode::kIoError, path + ": cannot stat: " + std::strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return make_error(ErrorCode::kIoError, path + ": not a regular file");
  }
  MappedFile mapped;
  if (info.st_size > 0) {
    void* address = ::mmap(nullptr, static_cast<size_t>(info.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      return make_error(ErrorCode::kIoError, path + ": cannot mmap: " + std::strerror(error));
    }
    mapped.address_ = address;
    mapped.size_ = static_cast<size_t>(info.st_size);
  }
  ::close(fd);  // the mapping keeps the file alive
  return mapped;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (address_ != nullptr) ::munmap(address_, size_);
    address_ = std::exchange(other.address_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (address_ != nullptr) ::munmap(address_, size_);
}

}  // namespace detail

namespace {

using detail::ParsedPart;
using detail::printable;

Result<std::unique_ptr<ParsedPart>> parse_file(const std::string& path) {
  auto part = std::make_unique<ParsedPart>();
  part->name = path;
  LW_ASSIGN_OR_RETURN(part->mapping, detail::MappedFile::map(path));
  part->bytes = part->mapping.bytes();
  LW_TRY(detail::parse_part(*part));
  return part;
}

// An integer metadata value of any integer type, widened; nullopt when absent.
Result<std::optional<int64_t>> optional_integer(const ParsedPart& part, std::string_view key) {
  const Value* value = part.find(key);
  if (value == nullptr) return std::optional<int64_t>{};
  int64_t out = 0;
  switch (value->type) {
    case ValueType::kUint8:
      out = value->raw_at<uint8_t>(0);
      break;
    case ValueType::kInt8:
      out = value->raw_at<int8_t>(0);
      break;
    case ValueType::kUint16:
      out = value->raw_at<uint16_t>(0);
      break;
    case ValueType::kInt16:
      out = value->raw_at<int16_t>(0);
      break;
    case ValueType::kUint32:
      out = value->raw_at<uint32_t>(0);
      break;
    case ValueType::kInt32:
      out = value->raw_at<int32_t>(0);
      break;
    case ValueType::kInt64:
      out = value->raw_at<int64_t>(0);
      break;
    case ValueType::kUint64: {
      const uint64_t raw = value->raw_at<uint64_t>(0);
      if (!std::in_range<int64_t>(raw)) {
        return make_error(ErrorCode::kMalformedFile,
                          part.name + ": " + std::string(key) + " is out of range");
      }
      out = static_cast<int64_t>(raw);
      break;
    }
    default:
      return make_error(ErrorCode::kMalformedFile, part.name + ": " + std::string(key) + " has type " +
                                                       std::string(value_type_name(value->type)) +
                                                       ", expected an integer");
  }
  return std::optional<int64_t>(out);
}

// PREFIX-KKKKK-of-NNNNN.gguf -> PREFIX, K, N; false when the name does not follow the pattern.
bool parse_split_name(const std::string& path, std::string* prefix, int* number, int* count) {
  constexpr std::string_view kSuffix = ".gguf";
  constexpr size_t kTail = 1 + 5 + 4 + 5;  // "-KKKKK-of-NNNNN"
  if (path.size() < kTail + kSuffix.size() ||
      path.compare(path.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return false;
  }
  const std::string tail = path.substr(path.size() - kSuffix.size() - kTail, kTail);
  for (size_t i : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{5}, size_t{10}, size_t{11}, size_t{12},
                   size_t{13}, size_t{14}}) {
    if (tail[i] < '0' || tail[i] > '9') return false;
  }
  if (tail[0] != '-' || tail.compare(6, 4, "-of-") != 0) return false;
  *prefix = path.substr(0, path.size() - kSuffix.size() - kTail);
  *number = std::stoi(tail.substr(1, 5));
  *count = std::stoi(tail.substr(10, 5));
  return true;
}

std::string split_name(const std::string& prefix, int number, int count) {
  char tail[32];
  std::snprintf(tail, sizeof(tail), "-%05d-of-%05d.gguf", number, count);
  return prefix + tail;
}

template <class T>
std::string_view requested_type_name() {
  if constexpr (std::is_same_v<T, uint8_t>)
    return "u8";
  else if constexpr (std::is_same_v<T, int8_t>)
    return "i8";
  else if constexpr (std::is_same_v<T, uint16_t>)
    return "u16";
  else if constexpr (std::is_same_v<T, int16_t>)
    return "i16";
  else if constexpr (std::is_same_v<T, uint32_t>)
    return "u32";
  else if constexpr (std::is_same_v<T, int32_t>)
    return "i32";
  else if constexpr (std::is_same_v<T, uint64_t>)
    return "u64";
  else if constexpr (std::is_same_v<T, int64_t>)
    return "i64";
  else if constexpr (std::is_same_v<T, float>)
    return "f32";
  else if constexpr (std::is_same_v<T, double>)
    return "f64";
  else if constexpr (std::is_same_v<T, bool>)
    return "bool";
  else
    return "str";
}

std::string describe_type(const Value& value) {
  if (!value.is_array()) return std::string(value_type_name(value.type));
  return "arr[" + std::string(value_type_name(value.element_type)) + "]";
}

// Element i of `value` (whose scalar type is value.scalar_type()) as T; `what` names the key.
template <class T>
Result<T> convert(const Value& value, uint64_t i, const std::string& what) {
  const ValueType stored = value.scalar_type();
  const auto wrong = [&]() -> Error {
    return make_error(ErrorCode::kInvalidArgument, what + " is " + describe_type(value) + ", not " +
                                                       (value.is_array() ? "an array of " : "") +
                                                       std::string(requested_type_name<T>()));
  };
  if constexpr (std::is_same_v<T, std::string>) {
    if (stored != ValueType::kString) return wrong();
    return std::string(value.string_at(i));
  } else if constexpr (std::is_same_v<T, bool>) {
    if (stored != ValueType::kBool) return wrong();
    return value.raw_at<uint8_t>(i) != 0;
  } else if constexpr (std::is_same_v<T, float>) {
    if (stored != ValueType::kFloat32) return wrong();
    return value.raw_at<float>(i);
  } else if constexpr (std::is_same_v<T, double>) {
    if (stored == ValueType::kFloat32) return static_cast<double>(value.raw_at<float>(i));
    if (stored != ValueType::kFloat64) return wrong();
    return value.raw_at<double>(i);
  } else {
    const auto fits = [&](auto raw) -> Result<T> {
      if (!std::in_range<T>(raw)) {
        return make_error(ErrorCode::kInvalidArgument,
                          what + (value.is_array() ? " element " + std::to_string(i) : std::string()) +
                              " holds " + std::to_string(raw) + " (" + std::string(value_type_name(stored)) +
                              "), which does not fit " + std::string(requested_type_name<T>()));
      }
      return static_cast<T>(raw);
    };
    switch (stored) {
      case ValueType::kUint8:
        return fits(value.raw_at<uint8_t>(i));
      case ValueType::kInt8:
        return fits(value.raw_at<int8_t>(i));
      case ValueType::kUint16:
        return fits(value.raw_at<uint16_t>(i));
      case ValueType::kInt16:
        return fits(value.raw_at<int16_t>(i));
      case ValueType::kUint32:
        return fits(value.raw_at<uint32_t>(i));
      case ValueType::kInt32:
        return fits(value.raw_at<int32_t>(i));
      case ValueType::kUint64:
        return fits(value.raw_at<uint64_t>(i));
      case ValueType::kInt64:
        return fits(value.raw_at<int64_t>(i));
      default:
        return wrong();
    }
  }
}

}  // namespace

int64_t TensorInfo::element_count() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;  // the reader checked the product fits int64
  return count;
}

File::File() = default;
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

Result<File> File::open_single(const std::string& path) {
  LW_ASSIGN_OR_RETURN(auto part, parse_file(path));
  std::vector<std::unique_ptr<ParsedPart>> parts;
  parts.push_back(std::move(part));
  return assemble(std::move(parts), path);
}

Result<File> File::from_bytes(std::span<const uint8_t> bytes, std::string name) {
  auto part = std::make_unique<ParsedPart>();
  part->name = name;
  part->bytes = bytes;
  LW_TRY(detail::parse_part(*part));
  std::vector<std::unique_ptr<ParsedPart>> parts;
  parts.push_back(std::move(part));
  return assemble(std::move(parts), std::move(name));
}

Result<File> File::open(const std::string& path) {
  LW_ASSIGN_OR_RETURN(auto first, parse_file(path));
  LW_ASSIGN_OR_RETURN(const auto count, optional_integer(*first, "split.count"));
  if (!count || *count <= 1) {
    std::vector<std::unique_ptr<ParsedPart>> parts;
    parts.push_back(std::move(first));
    return assemble(std::move(parts), path);
  }
  std::string prefix;
  int number = 0;
  int name_count = 0;
  if (!parse_split_name(path, &prefix, &number, &name_count)) {
    return make_error(ErrorCode::kMalformedFile, path + ": split.count is " + std::to_string(*count) +
                                                     " but the name does not end in -KKKKK-of-NNNNN.gguf");
  }
  if (name_count != *count || number < 1 || number > name_count) {
    return make_error(ErrorCode::kMalformedFile, path + ": split.count is " + std::to_string(*count) +
                                                     " but the name says part " + std::to_string(number) +
                                                     " of " + std::to_string(name_count));
  }
  std::vector<std::unique_ptr<ParsedPart>> parts(static_cast<size_t>(name_count));
  parts[static_cast<size_t>(number - 1)] = std::move(first);
  for (int i = 0; i < name_count; ++i) {
    auto& part = parts[static_cast<size_t>(i)];
    if (!part) {
      LW_ASSIGN_OR_RETURN(part, parse_file(split_name(prefix, i + 1, name_count)));
    }
    LW_ASSIGN_OR_RETURN(const auto part_count, optional_integer(*part, "split.count"));
    LW_ASSIGN_OR_RETURN(const auto part_no, optional_integer(*part, "split.no"));
    if (part_count != count || part_no != std::optional<int64_t>(i)) {
      return make_error(ErrorCode::kMalformedFile,
                        part->name + ": split part " + std::to_string(i + 1) + " of " +
                            std::to_string(*count) + " has split.no " +
                            (part_no ? std::to_string(*part_no) : "missing") + " and split.count " +
                            (part_count ? std::to_string(*part_count) : "missing") + ", expected " +
                            std::to_string(i) + " and " + std::to_string(*count));
    }
  }
  LW_ASSIGN_OR_RETURN(const auto total, optional_integer(*parts[0], "split.tensors.count"));
  const std::string first_path = parts[0]->name;
  LW_ASSIGN_OR_RETURN(File file, assemble(std::move(parts), first_path));
  if (total && *total != static_cast<int64_t>(file.tensors_.size())) {
    return make_error(ErrorCode::kMalformedFile, first_path + ": split.tensors.count is " +
                                                     std::to_string(*total) + " but the parts hold " +
                                                     std::to_string(file.tensors_.size()) + " tensors");
  }
  return file;
}

Result<File> File::assemble(std::vector<std::unique_ptr<ParsedPart>> parts, std::string path) {
  File file;
  file.path_ = std::move(path);
  size_t total = 0;
  for (const auto& part : parts) total += part->tensors.size();
  file.tensors_.reserve(total);
  for (size_t p = 0; p < parts.size(); ++p) {
    if (parts.size() > 1) file.split_paths_.push_back(parts[p]->name);
    for (TensorInfo& info : parts[p]->tensors) {
      info.split = static_cast<uint32_t>(p);
      file.tensors_.push_back(std::move(info));
    }
    parts[p]->tensors.clear();
  }
  file.tensor_index_.reserve(total);
  for (size_t i = 0; i < file.tensors_.size(); ++i) {
    if (!file.tensor_index_.emplace(file.tensors_[i].name, i).second) {
      return make_error(ErrorCode::kMalformedFile, parts[file.tensors_[i].split]->name + ": tensor '" +
                                                       printable(file.tensors_[i].name) +
                                                       "' also appears in an earlier split part");
    }
  }
  file.parts_ = std::move(parts);
  return file;
}

uint32_t File::version() const { return parts_[0]->version; }
uint64_t File::alignment() const { return parts_[0]->alignment; }
uint64_t File::file_size() const { return parts_[0]->bytes.size(); }
uint64_t File::data_offset() const { return parts_[0]->data_offset; }
const std::vector<MetadataEntry>& File::metadata() const { return parts_[0]->metadata; }
bool File::has(std::string_view key) const { return find(key) != nullptr; }
const Value* File::find(std::string_view key) const { return parts_[0]->find(key); }

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

template <MetadataScalar T>
Result<T> File::get(std::string_view key) const {
  const std::string what = path_ + ": metadata key '" + printable(key) + "'";
  const Value* value = find(key);
  if (value == nullptr) return make_error(ErrorCode::kNotFound, what + " is missing");
  if (value->is_array()) {
    return make_error(ErrorCode::kInvalidArgument, what + " is " + describe_type(*value) + ", not " +
                                                       std::string(requested_type_name<T>()));
  }
  return convert<T>(*value, 0, what);
}

template <MetadataScalar T>
Result<std::vector<T>> File::get_array(std::string_view key) const {
  const std::string what = path_ + ": metadata key '" + printable(key) + "'";
  const Value* value = find(key);
  if (value == nullptr) return make_error(ErrorCode::kNotFound, what + " is missing");
  if (!value->is_array()) {
    return make_error(
        ErrorCode::kInvalidArgument,
        what + " is " + describe_type(*value) + ", not an array of " + std::string(requested_type_name<T>()));
  }
  std::vector<T> out;
  out.reserve(value->count);
  for (uint64_t i = 0; i < value->count; ++i) {
    LW_ASSIGN_OR_RETURN(T element, convert<T>(*value, i, what));
    out.push_back(std::move(element));
  }
  return out;
}

Result<std::string> File::architecture() const { return get<std::string>("general.architecture"); }

#define LW_GGUF_INSTANTIATE(T)                                 \
  template Result<T> File::get<T>(std::string_view key) const; \
  template Result<std::vector<T>> File::get_array<T>(std::string_view key) const;
LW_GGUF_FOR_EACH_CPP_VALUE_TYPE(LW_GGUF_INSTANTIATE)
#undef LW_GGUF_INSTANTIATE

}  // namespace llama_worker::gguf
