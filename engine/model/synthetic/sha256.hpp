// SHA-256 (FIPS 180-4), to print and pin the digest of generated model files. Incremental, so
// a multi-gigabyte file can be hashed without holding it twice.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "core/status.hpp"

namespace llama_worker::synthetic {

class Sha256 {
 public:
  Sha256();
  void update(std::span<const uint8_t> bytes);
  std::array<uint8_t, 32> finish();  // the object is spent afterwards
  std::string finish_hex();          // lowercase hex

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  uint64_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::span<const uint8_t> bytes);
// Hashes a file in chunks.
Result<std::string> sha256_file_hex(const std::string& path);

}  // namespace llama_worker::synthetic
