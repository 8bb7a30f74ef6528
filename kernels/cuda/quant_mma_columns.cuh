// The batched step's products on tensor cores: the same contract as quant_gemv_columns
// (QuantGemvColumnsParams; every column's output bits are the same whatever `columns` is and
// wherever the column sits), computed as y = x W^T with mma.sync m16n8k16 (fp16 operands, fp32
// accumulation) instead of one fp32 dot product per column.
//
// Per launch, a block of 4 warps owns 16 output rows and up to 64 columns. For each 128-wide step
// of the input, the columns' activations are rounded to fp16 into shared memory and each warp
// decodes its 32-wide quarter of the 16 rows' weights (quant_blocks.cuh's exact decoders, rounded
// to fp16) and runs two k16 steps of mma for every 8-column tile; at the end the four warps' sums
// are added in warp order. A column's accumulator sees the same sequence of mma instructions and
// additions with the same weight fragments whatever the other columns are (the product of a row
// and a column does not read any other column), so the bits of a column do not depend on the
// batch: the column-count invariance of the batched step. Columns past 64 run in further column
// tiles of the same launch shape.
//
// Numerics: weights and activations rounded to fp16, as the tensor-core prefill does; bounded by
// NMSE against the CPU reference in the conformance suite. Not bit-equal to quant_gemv_columns.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"
#include "cuda/quant_gemv.cuh"

namespace llama_worker::kernels::cuda {

// Whether a matrix of `type` and `in_features` takes this path (a decodable type and a width that
// is a multiple of 128); the choice depends on the matrix only, never on the columns.
bool quant_mma_columns_supports(gguf::TensorType type, int64_t in_features);

Status quant_mma_columns(const QuantGemvColumnsParams& params, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
