// Embedding lookup, CPU reference: out[t] = dequantize(table row tokens[t]).
//
// The table is token_embd as stored in the file (vocab rows of width elements in table_type),
// so a quantized embedding is decoded row by row with the bit-exact reference decoder. A token
// id outside [0, vocab) is an error that names the id and the position.
#pragma once

#include <cstdint>

#include "core/status.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::kernels::cpu {

struct EmbeddingParams {
  float* out = nullptr;             // (token_count, width) fp32
  const int32_t* tokens = nullptr;  // (token_count) token ids
  int64_t token_count = 0;
  const uint8_t* table = nullptr;  // (vocab rows, each table_row_bytes bytes of table_type)
  gguf::TensorType table_type = gguf::TensorType::kF32;
  int64_t table_row_bytes = 0;  // gguf::row_bytes(table_type, width)
  int64_t vocab = 0;            // rows of the table
  int64_t width = 0;            // embedding width (n_embd)
};

Status embedding_lookup_f32(const EmbeddingParams& params);

}  // namespace llama_worker::kernels::cpu
