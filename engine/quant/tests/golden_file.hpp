// Reader for golden/quant/*.bin (written by golden/quant/make_quant_goldens.py): magic "LWQG",
// uint32 LE header length, JSON header, then the sections the header lists, in order.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace llama_worker::quant::testing {

struct GoldenFile {
  nlohmann::json header;
  std::map<std::string, std::vector<uint8_t>> sections;
  std::string error;  // empty when the file was read
};

inline std::string golden_dir() {
  const char* dir = std::getenv("LLAMA_WORKER_QUANT_GOLDEN_DIR");
  return dir != nullptr ? dir : "golden/quant";
}

inline GoldenFile read_golden(const std::string& name) {
  GoldenFile golden;
  const std::string path = golden_dir() + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    golden.error = "cannot open " + path;
    return golden;
  }
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 8 || std::string(bytes.begin(), bytes.begin() + 4) != "LWQG") {
    golden.error = path + ": not a golden file";
    return golden;
  }
  const uint32_t header_size =
      bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (static_cast<uint32_t>(bytes[7]) << 24);
  if (bytes.size() < 8 + static_cast<size_t>(header_size)) {
    golden.error = path + ": truncated header";
    return golden;
  }
  golden.header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + header_size, nullptr, false);
  if (golden.header.is_discarded() || golden.header.value("format_version", 0) != 1) {
    golden.error = path + ": bad header or format version";
    return golden;
  }
  size_t offset = 8 + header_size;
  for (const auto& section : golden.header["sections"]) {
    const size_t size = section["bytes"].get<size_t>();
    if (offset + size > bytes.size()) {
      golden.error = path + ": truncated section " + section["name"].get<std::string>();
      return golden;
    }
    golden.sections[section["name"].get<std::string>()] =
        std::vector<uint8_t>(bytes.begin() + static_cast<std::ptrdiff_t>(offset),
                             bytes.begin() + static_cast<std::ptrdiff_t>(offset + size));
    offset += size;
  }
  if (offset != bytes.size()) golden.error = path + ": trailing bytes";
  return golden;
}

}  // namespace llama_worker::quant::testing
