// Greedy token choice on the device: the index of the largest logit, the lowest index among
// ties, so only one int32 crosses to the host per decode step. A NaN logit makes the result -1
// (the caller reports corrupt logits instead of emitting a token).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"

namespace llama_worker::kernels::cuda {

// logits: (count) fp32 device; result: one device int32.
Status argmax_f32(int32_t* result, const float* logits, int64_t count, cudaStream_t stream);

// The same for `rows` rows of `count` logits (row r at logits + r * row_stride), each row cut into
// slices reduced by their own blocks, except that any non-finite logit (NaN or infinite) makes
// that row's result -1: the batched step's greedy tokens (runtime::BatchEntry::greedy).
// results: `rows` device int32; workspace: argmax_rows_workspace_bytes(rows) device bytes.
int64_t argmax_rows_workspace_bytes(int64_t rows);
Status argmax_rows_f32(int32_t* results, void* workspace, const float* logits, int64_t rows, int64_t count,
                       int64_t row_stride, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
