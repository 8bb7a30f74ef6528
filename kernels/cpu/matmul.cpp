#include "cpu/matmul.hpp"

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "cpu/parallel.hpp"
#include "quant/dequantize.hpp"

namespace llama_worker::kernels::cpu {

float dot_f32(const float* a, const float* b, int64_t count) {
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    for (int k = 0; k < 8; ++k) lanes[k] += a[i + k] * b[i + k];
  }
  for (; i < count; ++i) lanes[i % 8] += a[i] * b[i];
  return ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
}

Status matmul_f32(const MatmulParams& p) {
  auto expected_row_bytes = gguf::row_bytes(p.weight_type, p.in_features);
  if (!expected_row_bytes) return expected_row_bytes.error();
  if (static_cast<int64_t>(*expected_row_bytes) != p.weight_row_bytes) {
    return make_error(ErrorCode::kInvalidArgument, "matmul: a row of " + std::to_string(p.in_features) + " " +
                                                       std::string(gguf::tensor_type_name(p.weight_type)) +
                                                       " elements is " + std::to_string(*expected_row_bytes) +
                                                       " bytes, not " + std::to_string(p.weight_row_bytes));
  }
  if (!gguf::traits(p.weight_type).computable) {
    return make_error(ErrorCode::kUnsupported, "matmul: weight type " +
                                                   std::string(gguf::tensor_type_name(p.weight_type)) +
                                                   " cannot be dequantized");
  }

  std::mutex error_mutex;
  Status first_error;
  parallel_for(p.out_features, p.threads, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(p.in_features));
    for (int64_t o = begin; o < end; ++o) {
      const uint8_t* encoded = p.weight + o * p.weight_row_bytes;
      Status status = quant::dequantize_row(p.weight_type, encoded, row.data(), p.in_features);
      if (!status) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (first_error) first_error = status;
        return;
      }
      const float bias = p.bias ? p.bias[o] : 0.0f;
      for (int64_t r = 0; r < p.rows; ++r) {
        p.y[r * p.out_features + o] = dot_f32(p.x + r * p.in_features, row.data(), p.in_features) + bias;
      }
    }
  });
  return first_error;
}

}  // namespace llama_worker::kernels::cpu
