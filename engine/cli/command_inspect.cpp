// `llama-worker inspect FILE.gguf [--json] [--array-items N]`: prints a GGUF file's header,
// architecture, every metadata key (arrays summarised to their first N elements) and the tensor
// table (type, shape, elements, bytes, offset), like gguf-dump. A split model given by any part
// is shown whole. A malformed file prints one "error: FILE: problem" line and exits with 1.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

#include "cli/command.hpp"
#include "cli/file_checks.hpp"
#include "cli/number_options.hpp"
#include "gguf/file.hpp"
#include "gguf/value_format.hpp"

namespace llama_worker::cli {
namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
  uint64_t array_items = 8;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Keys are printed as they are when they are plain ASCII, quoted and escaped otherwise.
std::string key_text(std::string_view key) {
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) return gguf::quote(key, 200);
  }
  return std::string(key);
}

nlohmann::ordered_json element_json(const gguf::Value& value, uint64_t i) {
  switch (value.scalar_type()) {
    case gguf::ValueType::kUint8:
      return value.raw_at<uint8_t>(i);
    case gguf::ValueType::kInt8:
      return value.raw_at<int8_t>(i);
    case gguf::ValueType::kUint16:
      return value.raw_at<uint16_t>(i);
    case gguf::ValueType::kInt16:
      return value.raw_at<int16_t>(i);
    case gguf::ValueType::kUint32:
      return value.raw_at<uint32_t>(i);
    case gguf::ValueType::kInt32:
      return value.raw_at<int32_t>(i);
    case gguf::ValueType::kUint64:
      return value.raw_at<uint64_t>(i);
    case gguf::ValueType::kInt64:
      return value.raw_at<int64_t>(i);
    case gguf::ValueType::kFloat32:
      return value.raw_at<float>(i);
    case gguf::ValueType::kFloat64:
      return value.raw_at<double>(i);
    case gguf::ValueType::kBool:
      return value.raw_at<uint8_t>(i) != 0;
    case gguf::ValueType::kString:
      return std::string(value.string_at(i));
    case gguf::ValueType::kArray:
      break;
  }
  return nullptr;
}

void print_json(const gguf::File& file, const InspectOptions& options) {
  nlohmann::ordered_json out;
  out["file"] = file.path();
  out["version"] = file.version();
  out["alignment"] = file.alignment();
  out["file_size"] = file.file_size();
  out["data_offset"] = file.data_offset();
  auto architecture = file.architecture();
  out["architecture"] =
      architecture ? nlohmann::ordered_json(*architecture) : nlohmann::ordered_json(nullptr);
  if (file.split_count() > 1) out["splits"] = file.split_paths();
  nlohmann::ordered_json metadata = nlohmann::ordered_json::array();
  for (const gguf::MetadataEntry& entry : file.metadata()) {
    nlohmann::ordered_json item;
    item["key"] = std::string(entry.key);
    item["type"] = std::string(gguf::value_type_name(entry.value.type));
    if (entry.value.is_array()) {
      item["element_type"] = std::string(gguf::value_type_name(entry.value.element_type));
      item["count"] = entry.value.count;
      const uint64_t shown = std::min<uint64_t>(entry.value.count, options.array_items);
      nlohmann::ordered_json values = nlohmann::ordered_json::array();
      for (uint64_t i = 0; i < shown; ++i) values.push_back(element_json(entry.value, i));
      item["values"] = std::move(values);
      item["truncated"] = shown < entry.value.count;
    } else {
      item["value"] = element_json(entry.value, 0);
    }
    metadata.push_back(std::move(item));
  }
  out["metadata"] = std::move(metadata);
  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  for (const gguf::TensorInfo& tensor : file.tensors()) {
    tensors.push_back({{"name", tensor.name},
                       {"type", std::string(gguf::tensor_type_name(tensor.type))},
                       {"shape", tensor.shape},
                       {"elements", tensor.element_count()},
                       {"bytes", tensor.byte_size},
                       {"offset", tensor.offset},
                       {"split", tensor.split}});
  }
  out["tensors"] = std::move(tensors);
  // Keys and strings are file bytes: invalid UTF-8 is replaced rather than thrown on.
  std::printf("%s\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
}

void print_text(const gguf::File& file, const InspectOptions& options) {
  std::printf("file: %s\n", file.path().c_str());
  std::printf("GGUF version %u, alignment %llu, %zu metadata keys, %zu tensors, %llu bytes", file.version(),
              static_cast<unsigned long long>(file.alignment()), file.metadata().size(),
              file.tensors().size(), static_cast<unsigned long long>(file.file_size()));
  if (!file.tensors().empty()) {
    std::printf(" (data section at byte %llu)", static_cast<unsigned long long>(file.data_offset()));
  }
  std::printf("\n");
  if (file.split_count() > 1) {
    std::printf("split model, %u parts:\n", file.split_count());
    for (const std::string& part : file.split_paths()) std::printf("  %s\n", part.c_str());
  }
  auto architecture = file.architecture();
  std::printf("architecture: %s\n", architecture ? architecture->c_str() : "(none)");

  const gguf::ValueFormat format{options.array_items, 80};
  std::printf("\nmetadata:\n");
  std::printf("  %5s  %-44s %-18s %s\n", "#", "key", "type", "value");
  size_t index = 0;
  for (const gguf::MetadataEntry& entry : file.metadata()) {
    std::printf("  %5zu  %-44s %-18s %s\n", ++index, key_text(entry.key).c_str(),
                gguf::describe_value_type(entry.value).c_str(),
                gguf::format_value(entry.value, format).c_str());
  }
  std::printf("\ntensors:%s\n", file.tensors().empty() ? " (none)" : "");
  if (file.tensors().empty()) return;
  std::printf("  %5s  %-40s %-8s %-26s %14s %14s %14s\n", "#", "name", "type", "shape", "elements", "bytes",
              "offset");
  index = 0;
  for (const gguf::TensorInfo& tensor : file.tensors()) {
    std::printf("  %5zu  %-40s %-8s %-26s %14lld %14llu %14llu%s\n", ++index, tensor.name.c_str(),
                std::string(gguf::tensor_type_name(tensor.type)).c_str(), shape_text(tensor.shape).c_str(),
                static_cast<long long>(tensor.element_count()),
                static_cast<unsigned long long>(tensor.byte_size),
                static_cast<unsigned long long>(tensor.offset),
                file.split_count() > 1 ? (" (part " + std::to_string(tensor.split + 1) + ")").c_str() : "");
  }
}

}  // namespace

Command add_inspect_command(CLI::App& parent) {
  auto options = std::make_shared<InspectOptions>();
  Command command;
  command.app =
      parent.add_subcommand("inspect", "Print a GGUF file's architecture, metadata and tensor table");
  command.app->add_option("file", options->path, "GGUF file (any part of a split model)")->required();
  command.app->add_flag("--json", options->json, "Print JSON instead of text");
  add_whole_number_option(*command.app, "--array-items", options->array_items,
                          "Array elements shown before summarising (default 8)", uint64_t{0});
  command.run = [options] {
    if (auto usable = check_existing_input_file(options->path, "GGUF", "a GGUF file"); !usable) {
      return report_error("inspect", usable.error());
    }
    auto file = gguf::File::open(options->path);
    if (!file) return report_error("", file.error());  // the message starts with the file name
    if (options->json) {
      print_json(*file, *options);
    } else {
      print_text(*file, *options);
    }
    return 0;
  };
  return command;
}

}  // namespace llama_worker::cli
