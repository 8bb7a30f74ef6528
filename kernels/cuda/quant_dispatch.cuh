// Runtime ggml type -> compile-time BlockTraits, in one place. `visit_weight_type(type, f)`
// calls f(BlockTraits<T>{}) for every type the CUDA kernels decode and returns kUnsupported
// otherwise, so a kernel body is written once and instantiated per format.
#pragma once

#include <string>

#include "core/status.hpp"
#include "cuda/quant_blocks.cuh"

namespace llama_worker::kernels::cuda {

template <typename Function>
Status visit_weight_type(gguf::TensorType type, Function&& function) {
  using gguf::TensorType;
  switch (type) {
    case TensorType::kF32:
      return function(BlockTraits<TensorType::kF32>{});
    case TensorType::kF16:
      return function(BlockTraits<TensorType::kF16>{});
    case TensorType::kBF16:
      return function(BlockTraits<TensorType::kBF16>{});
    case TensorType::kQ4_0:
      return function(BlockTraits<TensorType::kQ4_0>{});
    case TensorType::kQ4_1:
      return function(BlockTraits<TensorType::kQ4_1>{});
    case TensorType::kQ5_0:
      return function(BlockTraits<TensorType::kQ5_0>{});
    case TensorType::kQ5_1:
      return function(BlockTraits<TensorType::kQ5_1>{});
    case TensorType::kQ8_0:
      return function(BlockTraits<TensorType::kQ8_0>{});
    case TensorType::kQ2_K:
      return function(BlockTraits<TensorType::kQ2_K>{});
    case TensorType::kQ3_K:
      return function(BlockTraits<TensorType::kQ3_K>{});
    case TensorType::kQ4_K:
      return function(BlockTraits<TensorType::kQ4_K>{});
    case TensorType::kQ5_K:
      return function(BlockTraits<TensorType::kQ5_K>{});
    case TensorType::kQ6_K:
      return function(BlockTraits<TensorType::kQ6_K>{});
    default:
      return make_error(ErrorCode::kUnsupported, "CUDA kernels cannot decode tensor type " +
                                                     std::string(gguf::tensor_type_name(type)));
  }
}

// Checks that a row of `width` elements of `type` can be read chunk by chunk: the width is a
// multiple of the type's block size (and of 8 for plain types) and `row_bytes` matches.
Status check_weight_rows(gguf::TensorType type, int64_t width, int64_t row_bytes, const char* op);

}  // namespace llama_worker::kernels::cuda
