#include "cpu/embedding.hpp"

#include <string>

#include "quant/dequantize.hpp"

namespace llama_worker::kernels::cpu {

Status embedding_lookup_f32(const EmbeddingParams& p) {
  auto expected_row_bytes = gguf::row_bytes(p.table_type, p.width);
  if (!expected_row_bytes) return expected_row_bytes.error();
  if (static_cast<int64_t>(*expected_row_bytes) != p.table_row_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "embedding: table row size " + std::to_string(p.table_row_bytes) + " does not match " +
                          std::to_string(*expected_row_bytes));
  }
  for (int64_t t = 0; t < p.token_count; ++t) {
    const int32_t id = p.tokens[t];
    if (id < 0 || id >= p.vocab) {
      return make_error(ErrorCode::kInvalidArgument,
                        "token id " + std::to_string(id) + " at position " + std::to_string(t) +
                            " is outside the vocabulary (size " + std::to_string(p.vocab) + ")");
    }
    LW_TRY(
        quant::dequantize_row(p.table_type, p.table + id * p.table_row_bytes, p.out + t * p.width, p.width));
  }
  return Status::ok();
}

}  // namespace llama_worker::kernels::cpu
