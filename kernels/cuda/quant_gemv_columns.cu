// quant_gemv_columns (quant_gemv.cuh): the decode product for several activation columns at once,
// for the batched forward, with every column's bits independent of the batch.
//
// Design. A block of kWarps warps owns kColumns columns (1, 2, 4 or 8) and kWarps * rows-per-warp
// output rows. Each lane walks the 32-weight units of its rows exactly as quant_gemv's gemv_warp
// does (u = lane, lane + 32, ...), and for every unit visits the block's columns in turn: gather
// that column's 32 activations (Unit::gather_x), then add Unit::dot(row, unit, xs) into that
// column's per-row sum. Only one column's activations are live at a time (registers); the weight
// loads and decode are the same for every column, so the compiler may share them.
//
// Why the bits do not depend on the batch: for one (column, row) the operations are, in order,
// sum = 0; sum += Unit::dot(unit u) for u = lane, lane + 32, ... (per lane); the fixed butterfly
// over offsets 16, 8, 4, 2, 1; then + bias, + residual, or silu(sum) * up_sum; which is exactly
// quant_gemv's sequence for that row. Nothing in it depends on kColumns, on which other columns
// share the block (masked columns are skipped, not computed with zeros), on the rows per warp
// (each row has its own sums), or on the launch shape. The conformance test checks it bit for bit
// (conformance/kernels/quant_gemv_columns_conformance_test.cpp).
//
// Grid: blockIdx.x is the column group, the fastest index, so the groups that read the same weight
// rows are scheduled together and share them through L2; blockIdx.y is the row block (launches
// are repeated past the 65,535 limit of gridDim.y). Full groups of 8 columns take one launch, the
// remainder (1 to 7 columns) one more, with the smallest of 1, 2, 4, 8 that holds it.
#include "cuda/cuda_check.hpp"
#include "cuda/launch.cuh"
#include "cuda/quant_gemv.cuh"
#include "cuda/quant_gemv_units.cuh"
#include "cuda/quant_matmul.cuh"

#include <limits>
#include <string>

namespace llama_worker::kernels::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxColumnsPerBlock = 8;
constexpr int64_t kMaxGridHeight = 65535;

// Each column already reuses every decoded weight kColumns times, so fewer rows per warp than the
// single-column kernel keep the sums (columns x rows, twice for SwiGLU) in registers.
template <bool kSwiglu>
constexpr int columns_rows_per_warp() {
  return kSwiglu ? 1 : 2;
}

// Register spills (ptxas -warn-spills, sm_90, nvcc 13): only the Q4_K plain 8-column instance, 4
// bytes (96 registers); the others use 48 to 128 registers without spilling. Not timed yet.
template <typename Unit, bool kSwiglu, int kColumns>
__global__ void __launch_bounds__(32 * kWarps)
    quant_gemv_columns_kernel(QuantGemvColumnsParams p, int64_t first_column, int64_t first_row_block) {
  pdl_launch_dependents();
  constexpr int kRowsPerWarp = columns_rows_per_warp<kSwiglu>();
  const int lane = threadIdx.x % 32;
  const int64_t rows = p.out_features;
  const int64_t row_block = first_row_block + blockIdx.y;
  const int64_t first_row = (row_block * kWarps + threadIdx.x / 32) * kRowsPerWarp;
  const int64_t column = first_column + static_cast<int64_t>(blockIdx.x) * kColumns;
  // Weights are never written by a kernel: the first column group pulls its rows into L2 before
  // waiting for the kernel that produces x; the other groups find them there.
  if (blockIdx.x == 0) {
    for (int64_t r = first_row; r < first_row + kRowsPerWarp && r < rows; ++r) {
      for (int64_t offset = 128 * lane; offset < p.weight_row_bytes; offset += 32 * 128) {
        prefetch_l2(p.weight + r * p.weight_row_bytes + offset);
        if constexpr (kSwiglu) prefetch_l2(p.up_weight + r * p.weight_row_bytes + offset);
      }
    }
  }
  pdl_wait();
  if (first_row >= rows) return;
  const int count = static_cast<int>(min(static_cast<int64_t>(kColumns), p.columns - column));

  const uint8_t* row_data[kRowsPerWarp];
  const uint8_t* up_row_data[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    // Rows past the end repeat the last row (uniform control flow); their sums are dropped.
    const int64_t row = min(first_row + r, rows - 1);
    row_data[r] = p.weight + row * p.weight_row_bytes;
    if constexpr (kSwiglu) up_row_data[r] = p.up_weight + row * p.weight_row_bytes;
  }
  const int units = static_cast<int>(p.in_features / Unit::kBlockElements) * Unit::kUnitsPerBlock;
  float sums[kColumns][kRowsPerWarp];
  float up_sums[kColumns][kRowsPerWarp];
#pragma unroll
  for (int c = 0; c < kColumns; ++c) {
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) sums[c][r] = up_sums[c][r] = 0.0f;
  }

#pragma unroll 2
  for (int u = lane; u < units; u += 32) {
    const int block = u / Unit::kUnitsPerBlock;
    const int unit = u % Unit::kUnitsPerBlock;
#pragma unroll
    for (int c = 0; c < kColumns; ++c) {
      if (c < count) {  // uniform across the warp
        float xs[gemv::kUnit];
        Unit::gather_x(p.x + (column + c) * p.x_stride + static_cast<int64_t>(block) * Unit::kBlockElements,
                       unit, xs);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
          sums[c][r] += Unit::dot(row_data[r] + static_cast<int64_t>(block) * Unit::kBlockBytes, unit, xs);
          if constexpr (kSwiglu) {
            up_sums[c][r] +=
                Unit::dot(up_row_data[r] + static_cast<int64_t>(block) * Unit::kBlockBytes, unit, xs);
          }
        }
      }
    }
  }
#pragma unroll
  for (int c = 0; c < kColumns; ++c) {
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      for (int offset = 16; offset > 0; offset >>= 1) {
        sums[c][r] += __shfl_xor_sync(0xffffffffu, sums[c][r], offset);
        if constexpr (kSwiglu) up_sums[c][r] += __shfl_xor_sync(0xffffffffu, up_sums[c][r], offset);
      }
    }
  }
  if (lane != 0) return;
#pragma unroll
  for (int c = 0; c < kColumns; ++c) {
    if (c >= count) break;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t row = first_row + r;
      if (row >= rows) break;
      const int64_t index = (column + c) * p.y_stride + row;
      float value = sums[c][r];
      if constexpr (kSwiglu) {
        value = value / (1.0f + expf(-value)) * up_sums[c][r];
      } else {
        if (p.bias != nullptr) value += p.bias[row];
        if (p.residual != nullptr) value += p.residual[index];
      }
      p.y[index] = value;
    }
  }
}

// `groups` groups of kColumns columns from first_column, every row block.
template <typename Unit, bool kSwiglu, int kColumns>
Status launch_column_groups(const QuantGemvColumnsParams& p, int64_t first_column, int64_t groups,
                            cudaStream_t stream) {
  constexpr int64_t kRowsPerBlock = kWarps * columns_rows_per_warp<kSwiglu>();
  const int64_t row_blocks = (p.out_features + kRowsPerBlock - 1) / kRowsPerBlock;
  for (int64_t begin = 0; begin < row_blocks; begin += kMaxGridHeight) {
    const int64_t height = row_blocks - begin < kMaxGridHeight ? row_blocks - begin : kMaxGridHeight;
    const dim3 grid(static_cast<unsigned>(groups), static_cast<unsigned>(height));
    LW_CUDA_TRY(launch(quant_gemv_columns_kernel<Unit, kSwiglu, kColumns>, grid, dim3(32 * kWarps), 0, stream,
                       p, first_column, begin));
  }
  return Status::ok();
}

template <typename Unit, bool kSwiglu>
Status launch_columns(const QuantGemvColumnsParams& p, cudaStream_t stream) {
  const int64_t full_groups = p.columns / kMaxColumnsPerBlock;
  if (full_groups > 0) {
    LW_TRY((launch_column_groups<Unit, kSwiglu, kMaxColumnsPerBlock>(p, 0, full_groups, stream)));
  }
  const int64_t first = full_groups * kMaxColumnsPerBlock;
  const int64_t rest = p.columns - first;
  if (rest > 4) return launch_column_groups<Unit, kSwiglu, 8>(p, first, 1, stream);
  if (rest > 2) return launch_column_groups<Unit, kSwiglu, 4>(p, first, 1, stream);
  if (rest == 2) return launch_column_groups<Unit, kSwiglu, 2>(p, first, 1, stream);
  if (rest == 1) return launch_column_groups<Unit, kSwiglu, 1>(p, first, 1, stream);
  return Status::ok();
}

template <typename Unit>
Status launch_unit(const QuantGemvColumnsParams& p, cudaStream_t stream) {
  return p.up_weight != nullptr ? launch_columns<Unit, true>(p, stream)
                                : launch_columns<Unit, false>(p, stream);
}

// The product for matrices without a decode kernel: quant_matmul's general kernel, all columns as
// tokens, never the one-token decode path (whose bits differ).
Status general_product(const QuantGemvColumnsParams& p, cudaStream_t stream) {
  QuantMatmulParams matmul;
  matmul.y = p.y;
  matmul.x = p.x;
  matmul.weight = p.weight;
  matmul.weight_type = p.weight_type;
  matmul.weight_row_bytes = p.weight_row_bytes;
  matmul.bias = p.bias;
  matmul.residual = p.residual;
  matmul.tokens = p.columns;
  matmul.in_features = p.in_features;
  matmul.out_features = p.out_features;
  matmul.x_stride = p.x_stride;
  matmul.y_stride = p.y_stride;
  matmul.never_gemv = true;
  return quant_matmul(matmul, stream);
}

}  // namespace

Status quant_gemv_columns(const QuantGemvColumnsParams& params, cudaStream_t stream) {
  QuantGemvColumnsParams p = params;
  if (p.x_stride == 0) p.x_stride = p.in_features;
  if (p.y_stride == 0) p.y_stride = p.out_features;
  if (p.y == nullptr || p.x == nullptr || p.weight == nullptr || p.columns < 1 || p.in_features <= 0 ||
      p.out_features <= 0 || p.x_stride < p.in_features || p.y_stride < p.out_features) {
    return make_error(ErrorCode::kInvalidArgument, "quant_gemv_columns: null pointer or bad shape");
  }
  if (p.columns / kMaxColumnsPerBlock >= std::numeric_limits<int32_t>::max()) {
    return make_error(ErrorCode::kInvalidArgument, "quant_gemv_columns: too many columns for one grid");
  }
  // Every column's row must be aligned on its own, so that the path taken (and so the bits) cannot
  // depend on where a column sits.
  if (reinterpret_cast<uintptr_t>(p.x) % 16 != 0 || p.x_stride % 4 != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "quant_gemv_columns: x must be 16-byte aligned with a stride multiple of 4");
  }
  if (p.up_weight != nullptr && (p.bias != nullptr || p.residual != nullptr)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "quant_gemv_columns: the SwiGLU form takes no bias or residual");
  }
  const bool decode_kernel =
      quant_gemv_supports(p.weight_type, p.weight, p.weight_row_bytes, p.in_features, p.x) &&
      (p.up_weight == nullptr ||
       quant_gemv_supports(p.weight_type, p.up_weight, p.weight_row_bytes, p.in_features, p.x));
  if (!decode_kernel) {
    if (p.up_weight != nullptr) {
      return make_error(ErrorCode::kUnsupported, "quant_gemv_columns: the SwiGLU form needs a " +
                                                     std::string(gguf::tensor_type_name(p.weight_type)) +
                                                     " matrix the decode kernel takes (Q4_K, Q6_K, Q5_0, "
                                                     "Q8_0, aligned)");
    }
    return general_product(p, stream);
  }
  using gguf::TensorType;
  switch (p.weight_type) {  // the types quant_gemv_supports() accepts
    case TensorType::kQ4_K:
      return launch_unit<gemv::Unit<TensorType::kQ4_K>>(p, stream);
    case TensorType::kQ6_K:
      return launch_unit<gemv::Unit<TensorType::kQ6_K>>(p, stream);
    case TensorType::kQ5_0:
      return launch_unit<gemv::Unit<TensorType::kQ5_0>>(p, stream);
    case TensorType::kQ8_0:
      return launch_unit<gemv::Unit<TensorType::kQ8_0>>(p, stream);
    default:
      return make_error(ErrorCode::kInternal, "quant_gemv_columns: decode type without a unit");
  }
}

}  // namespace llama_worker::kernels::cuda
