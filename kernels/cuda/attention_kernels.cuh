// The attention launchers behind attention() (attention.cuh), one file each:
// attention_prefill.cu and attention_prefill_mma.cu (many queries: tiled, online softmax),
// attention_decode.cu (one query: split-KV) and attention_decode_grouped.cu (one query, grouped-query
// heads). All take parameters already validated and defaulted by attention().
#pragma once

#include <cuda_runtime_api.h>

#include "core/status.hpp"
#include "cuda/attention.cuh"

namespace llama_worker::kernels::cuda {

// Largest head dimension the prefill kernel holds in registers (8 output dimensions per lane).
inline constexpr int64_t kAttentionPrefillMaxHeadDim = 256;

Status attention_prefill(const AttentionParams& p, cudaStream_t stream);
// Tensor-core prefill: head dimensions 64, 96, 128 with 8-byte aligned q/out (even q_stride) and
// 16-byte aligned caches.
bool attention_prefill_mma_supports(const AttentionParams& p);
Status attention_prefill_mma(const AttentionParams& p, cudaStream_t stream);
Status attention_decode_split(const AttentionParams& p, cudaStream_t stream);
// Split-KV decode with one block per K/V head and slice for 2 to 8 query heads per K/V head and
// head dimensions 64 or 128 (attention_decode_grouped.cu); attention_decode_split dispatches to it.
bool attention_decode_grouped_supports(const AttentionParams& p);
Status attention_decode_grouped(const AttentionParams& p, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
