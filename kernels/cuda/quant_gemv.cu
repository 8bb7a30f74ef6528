#include "cuda/cuda_check.hpp"
#include "cuda/launch.cuh"
#include "cuda/quant_gemv.cuh"
#include "cuda/quant_gemv_units.cuh"

#include <string>

namespace llama_worker::kernels::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = 2;

template <typename Unit, bool kSwiglu>
__global__ void __launch_bounds__(32 * kWarps) quant_gemv_kernel(QuantGemvParams p) {
  pdl_launch_dependents();
  const int lane = threadIdx.x % 32;
  const int64_t first_row = (static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32) * kRowsPerWarp;
  const uint8_t* rows[kRowsPerWarp];
  const uint8_t* up_rows[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    // Rows past the end repeat the last row (uniform control flow); their sums are dropped.
    const int64_t row = min(first_row + r, p.out_features - 1);
    rows[r] = p.weight + row * p.weight_row_bytes;
    if constexpr (kSwiglu) up_rows[r] = p.up_weight + row * p.weight_row_bytes;
  }
  // Weights are never written by a kernel: start pulling them into L2 while the previous kernel
  // (which produces x) finishes, then wait for it.
  if (first_row < p.out_features) {
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      for (int64_t offset = 128 * lane; offset < p.weight_row_bytes; offset += 32 * 128) {
        prefetch_l2(rows[r] + offset);
        if constexpr (kSwiglu) prefetch_l2(up_rows[r] + offset);
      }
    }
  }
  pdl_wait();
  if (first_row >= p.out_features) return;
  const int units = static_cast<int>(p.in_features / Unit::kBlockElements) * Unit::kUnitsPerBlock;
  float sums[kRowsPerWarp];
  float up_sums[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) sums[r] = up_sums[r] = 0.0f;

#pragma unroll 2
  for (int u = lane; u < units; u += 32) {
    const int block = u / Unit::kUnitsPerBlock;
    const int unit = u % Unit::kUnitsPerBlock;
    float xs[gemv::kUnit];
    Unit::gather_x(p.x + static_cast<int64_t>(block) * Unit::kBlockElements, unit, xs);
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      sums[r] += Unit::dot(rows[r] + static_cast<int64_t>(block) * Unit::kBlockBytes, unit, xs);
      if constexpr (kSwiglu) up_sums[r] += Unit::dot(up_rows[r] + static_cast<int64_t>(block) * Unit::kBlockBytes, unit, xs);
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    for (int offset = 16; offset > 0; offset >>= 1) {
      sums[r] += __shfl_xor_sync(0xffffffffu, sums[r], offset);
      if constexpr (kSwiglu) up_sums[r] += __shfl_xor_sync(0xffffffffu, up_sums[r], offset);
    }
  }
  if (lane == 0) {
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t row = first_row + r;
      if (row >= p.out_features) break;
      float value = sums[r];
      if constexpr (kSwiglu) {
        value = value / (1.0f + expf(-value)) * up_sums[r];
      } else {
        if (p.bias != nullptr) value += p.bias[row];
        if (p.residual != nullptr) value += p.residual[row];
      }
      p.y[row] = value;
    }
  }
}

template <typename Function>
Status visit_gemv_type(gguf::TensorType type, Function&& function) {
  using gguf::TensorType;
  switch (type) {
    case TensorType::kQ4_K: return function(gemv::Unit<TensorType::kQ4_K>{});
    case TensorType::kQ6_K: return function(gemv::Unit<TensorType::kQ6_K>{});
    case TensorType::kQ5_0: return function(gemv::Unit<TensorType::kQ5_0>{});
    case TensorType::kQ8_0: return function(gemv::Unit<TensorType::kQ8_0>{});
    default: return make_error(ErrorCode::kUnsupported, "quant_gemv: no decode kernel for this type");
  }
}

}  // namespace

bool quant_gemv_supports(gguf::TensorType type, const uint8_t* weight, int64_t row_bytes, int64_t in_features,
                         const float* x) {
  bool supported = false;
  const Status status = visit_gemv_type(type, [&](auto unit) -> Status {
    using Unit = decltype(unit);
    const uintptr_t alignment = Unit::kNeeds16ByteRows ? 16 : 2;
    supported = in_features > 0 && in_features % Unit::kBlockElements == 0 &&
                row_bytes == in_features / Unit::kBlockElements * Unit::kBlockBytes &&
                reinterpret_cast<uintptr_t>(weight) % alignment == 0 && row_bytes % static_cast<int64_t>(alignment) == 0 &&
                reinterpret_cast<uintptr_t>(x) % 16 == 0;
    return Status::ok();
  });
  return status && supported;
}

Status quant_gemv(const QuantGemvParams& p, cudaStream_t stream) {
  if (p.y == nullptr || p.x == nullptr || p.weight == nullptr || p.out_features <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "quant_gemv: null pointer or bad shape");
  }
  if (!quant_gemv_supports(p.weight_type, p.weight, p.weight_row_bytes, p.in_features, p.x) ||
      (p.up_weight != nullptr &&
       !quant_gemv_supports(p.weight_type, p.up_weight, p.weight_row_bytes, p.in_features, p.x))) {
    return make_error(ErrorCode::kUnsupported, "quant_gemv: " + std::string(gguf::tensor_type_name(p.weight_type)) +
                                                   " matrix of width " + std::to_string(p.in_features) +
                                                   " has no decode kernel or is misaligned");
  }
  if (p.up_weight != nullptr && (p.bias != nullptr || p.residual != nullptr)) {
    return make_error(ErrorCode::kInvalidArgument, "quant_gemv: the SwiGLU form takes no bias or residual");
  }
  constexpr int64_t rows_per_block = kWarps * kRowsPerWarp;
  const unsigned blocks = static_cast<unsigned>((p.out_features + rows_per_block - 1) / rows_per_block);
  return visit_gemv_type(p.weight_type, [&](auto unit) -> Status {
    using Unit = decltype(unit);
    if (p.up_weight != nullptr) {
      LW_CUDA_TRY(launch(quant_gemv_kernel<Unit, true>, blocks, 32 * kWarps, 0, stream, p));
    } else {
      LW_CUDA_TRY(launch(quant_gemv_kernel<Unit, false>, blocks, 32 * kWarps, 0, stream, p));
    }
    return Status::ok();
  });
}

}  // namespace llama_worker::kernels::cuda
