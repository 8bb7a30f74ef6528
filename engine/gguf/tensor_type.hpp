// ggml tensor types and their traits, in one place: block size (elements per block), bytes per
// block, name, and whether the engine can compute with the type. The ids are GGUF's (ggml_type);
// ids that ggml retired are absent and read as unknown.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/status.hpp"

namespace llama_worker::gguf {

enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;    // ggml's name, e.g. "Q4_K"
  int64_t block_size;       // elements per block (1 for plain types)
  int64_t bytes_per_block;  // bytes of one block
  bool computable;          // the engine can dequantize and multiply it (else: read and reported only)
};

// Traits of a raw type id from a file; nullopt when the id is not a known ggml type.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t raw_type);
// Traits of a known type (never fails).
const TensorTypeTraits& traits(TensorType type);
std::string_view tensor_type_name(TensorType type);

// Bytes of a row of `elements` values: fails when elements is not a multiple of the block size
// or the size overflows.
Result<uint64_t> row_bytes(TensorType type, int64_t elements);

}  // namespace llama_worker::gguf
