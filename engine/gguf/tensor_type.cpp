#include "gguf/tensor_type.hpp"

#include <array>
#include <limits>
#include <string>

namespace llama_worker::gguf {
namespace {

// Block layouts follow ggml (ggml-common.h): e.g. Q4_K = 2 fp16 scales + 12 bytes of 6-bit
// sub-block scales + 128 bytes of 4-bit quants for 256 weights = 144 bytes.
constexpr std::array kTraits = {
    TensorTypeTraits{TensorType::kF32, "F32", 1, 4, true},
    TensorTypeTraits{TensorType::kF16, "F16", 1, 2, true},
    TensorTypeTraits{TensorType::kQ4_0, "Q4_0", 32, 18, true},
    TensorTypeTraits{TensorType::kQ4_1, "Q4_1", 32, 20, true},
    TensorTypeTraits{TensorType::kQ5_0, "Q5_0", 32, 22, true},
    TensorTypeTraits{TensorType::kQ5_1, "Q5_1", 32, 24, true},
    TensorTypeTraits{TensorType::kQ8_0, "Q8_0", 32, 34, true},
    TensorTypeTraits{TensorType::kQ8_1, "Q8_1", 32, 36, false},
    TensorTypeTraits{TensorType::kQ2_K, "Q2_K", 256, 84, true},
    TensorTypeTraits{TensorType::kQ3_K, "Q3_K", 256, 110, true},
    TensorTypeTraits{TensorType::kQ4_K, "Q4_K", 256, 144, true},
    TensorTypeTraits{TensorType::kQ5_K, "Q5_K", 256, 176, true},
    TensorTypeTraits{TensorType::kQ6_K, "Q6_K", 256, 210, true},
    TensorTypeTraits{TensorType::kQ8_K, "Q8_K", 256, 292, false},
    TensorTypeTraits{TensorType::kIQ2_XXS, "IQ2_XXS", 256, 66, false},
    TensorTypeTraits{TensorType::kIQ2_XS, "IQ2_XS", 256, 74, false},
    TensorTypeTraits{TensorType::kIQ3_XXS, "IQ3_XXS", 256, 98, false},
    TensorTypeTraits{TensorType::kIQ1_S, "IQ1_S", 256, 50, false},
    TensorTypeTraits{TensorType::kIQ4_NL, "IQ4_NL", 32, 18, false},
    TensorTypeTraits{TensorType::kIQ3_S, "IQ3_S", 256, 110, false},
    TensorTypeTraits{TensorType::kIQ2_S, "IQ2_S", 256, 82, false},
    TensorTypeTraits{TensorType::kIQ4_XS, "IQ4_XS", 256, 136, false},
    TensorTypeTraits{TensorType::kI8, "I8", 1, 1, false},
    TensorTypeTraits{TensorType::kI16, "I16", 1, 2, false},
    TensorTypeTraits{TensorType::kI32, "I32", 1, 4, false},
    TensorTypeTraits{TensorType::kI64, "I64", 1, 8, false},
    TensorTypeTraits{TensorType::kF64, "F64", 1, 8, false},
    TensorTypeTraits{TensorType::kIQ1_M, "IQ1_M", 256, 56, false},
    TensorTypeTraits{TensorType::kBF16, "BF16", 1, 2, true},
    TensorTypeTraits{TensorType::kTQ1_0, "TQ1_0", 256, 54, false},
    TensorTypeTraits{TensorType::kTQ2_0, "TQ2_0", 256, 66, false},
    TensorTypeTraits{TensorType::kMXFP4, "MXFP4", 32, 17, false},
};

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t raw_type) {
  for (const auto& entry : kTraits) {
    if (static_cast<uint32_t>(entry.type) == raw_type) return entry;
  }
  return std::nullopt;
}

const TensorTypeTraits& traits(TensorType type) {
  for (const auto& entry : kTraits) {
    if (entry.type == type) return entry;
  }
  return kTraits[0];  // unreachable for a valid enumerator; every enumerator is in the table
}

std::string_view tensor_type_name(TensorType type) { return traits(type).name; }

Result<uint64_t> row_bytes(TensorType type, int64_t elements) {
  const auto& entry = traits(type);
  if (elements < 0 || elements % entry.block_size != 0) {
    return make_error(ErrorCode::kMalformedFile,
                      "row of " + std::to_string(elements) + " elements is not a multiple of " +
                          std::string(entry.name) + "'s block size " + std::to_string(entry.block_size));
  }
  const uint64_t blocks = static_cast<uint64_t>(elements / entry.block_size);
  const uint64_t per_block = static_cast<uint64_t>(entry.bytes_per_block);
  if (blocks > std::numeric_limits<uint64_t>::max() / per_block) {
    return make_error(ErrorCode::kMalformedFile, "row size overflows");
  }
  return blocks * per_block;
}

}  // namespace llama_worker::gguf
