// Embedding lookup on the device: out[t] = decode(table row tokens[t]), the table kept in its
// stored encoding. Twin of kernels/cpu/embedding.hpp. Token ids are read from device memory
// (so a captured decode graph never changes); an id outside [0, vocab) writes NaN to its row
// and sets *error_flag to 1 (when error_flag is non-null): the host checks ids before upload,
// this is the second line of defence, never an out-of-bounds read.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::kernels::cuda {

struct EmbeddingParams {
  float* out = nullptr;             // (token_count, width) fp32
  const int32_t* tokens = nullptr;  // (token_count) device token ids
  int64_t token_count = 0;
  const uint8_t* table = nullptr;  // vocab rows of table_row_bytes, device memory
  gguf::TensorType table_type = gguf::TensorType::kF32;
  int64_t table_row_bytes = 0;
  int64_t vocab = 0;
  int64_t width = 0;
  int* error_flag = nullptr;  // device int, set to 1 on an id out of range; may be null
};

Status embedding_lookup(const EmbeddingParams& params, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
