// The one place where a runtime tensor type becomes a compile-time block format. Every format
// struct provides:
//   kType, kBlockElements (elements per block), kBlockBytes (bytes per block),
//   kMaxMagnitude (largest |x| the quantizer accepts),
//   dequantize_block(const uint8_t* block, float* out)   // out: kBlockElements floats
//   quantize_block(const float* in, uint8_t* block)       // in: kBlockElements floats
// A type without a format struct is an error naming the type and the supported ones.
#pragma once

#include <string>
#include <string_view>

#include "core/status.hpp"
#include "gguf/tensor_type.hpp"
#include "quant/formats_k.hpp"
#include "quant/formats_legacy.hpp"
#include "quant/formats_plain.hpp"

namespace llama_worker::quant {

inline constexpr std::string_view kSupportedTypeNames =
    "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K";

// Calls visitor(Format{}) for the format of `type` and returns its Status; `operation` names
// what was attempted, for the error ("dequantization", "quantization").
template <class Visitor>
Status visit_format(gguf::TensorType type, std::string_view operation, Visitor&& visitor) {
  using gguf::TensorType;
  switch (type) {
    case TensorType::kF32:
      return visitor(F32Format{});
    case TensorType::kF16:
      return visitor(F16Format{});
    case TensorType::kBF16:
      return visitor(BF16Format{});
    case TensorType::kQ4_0:
      return visitor(Q4_0Format{});
    case TensorType::kQ4_1:
      return visitor(Q4_1Format{});
    case TensorType::kQ5_0:
      return visitor(Q5_0Format{});
    case TensorType::kQ5_1:
      return visitor(Q5_1Format{});
    case TensorType::kQ8_0:
      return visitor(Q8_0Format{});
    case TensorType::kQ2_K:
      return visitor(Q2_KFormat{});
    case TensorType::kQ3_K:
      return visitor(Q3_KFormat{});
    case TensorType::kQ4_K:
      return visitor(Q4_KFormat{});
    case TensorType::kQ5_K:
      return visitor(Q5_KFormat{});
    case TensorType::kQ6_K:
      return visitor(Q6_KFormat{});
    default:
      break;
  }
  return make_error(ErrorCode::kUnsupported, "tensor type " + std::string(gguf::tensor_type_name(type)) +
                                                 " is not supported by " + std::string(operation) +
                                                 " (supported: " + std::string(kSupportedTypeNames) + ")");
}

// Checks a row length against a format's block size.
template <class Format>
Status check_element_count(int64_t count) {
  if (count < 0 || count % Format::kBlockElements != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "row of " + std::to_string(count) + " elements is not a multiple of " +
                          std::string(gguf::tensor_type_name(Format::kType)) + "'s block size " +
                          std::to_string(Format::kBlockElements));
  }
  return Status::ok();
}

}  // namespace llama_worker::quant
