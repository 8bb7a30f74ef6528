// Paged KV cache on the device: the store of new K/V rows and causal attention over them, for a
// batched step that stacks rows of many sequences (each row: one token of one sequence at an
// absolute position, with that sequence's block table). Twin of kernels/cpu/attention.hpp on
// the K/V gathered to contiguous rows (same visibility rule: the query at position p sees keys j
// with j <= p and, with a window W > 0, p - j < W; query head h reads KV head h / (heads / kv_heads)).
//
// Pool layout (as engine/runtime/kv_pool/kv_pool_plan.hpp, with fp16 elements): blocks of
// block_positions positions; per (block, layer, K|V) a slab of block_positions * kv_width
// elements; slab index = (block * layers + layer) * 2 + (0 for K, 1 for V). Position j of a
// sequence lives in pool block table[j / block_positions], row j % block_positions of the slab.
//
// Batch invariance, the point of these kernels: a row's output bits depend only on its query,
// its position and its sequence's K/V; never on the number of rows, the row's index or the
// other rows. One block per (row, query head) and nothing shared between blocks; within a block
// the keys are dealt to warps and lanes by their absolute position only, every lane keeps an
// online softmax over its keys in ascending order, and the lanes and then the warps are merged
// by fixed trees. The result is also the same bits on every run.
//
// Rows of a prefill chunk are stored (paged_kv_store) before paged_attention runs, so each row
// sees its own and the earlier positions of its sequence.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"

namespace llama_worker::kernels::cuda {

// One layer's view of the pool.
struct PagedKvLayout {
  __half* k = nullptr;       // pool base + (layer * 2 + 0) * slab_elements: block 0's K slab of the layer
  __half* v = nullptr;       // pool base + (layer * 2 + 1) * slab_elements: block 0's V slab of the layer
  int64_t block_stride = 0;  // elements from a slab of block b to the same slab of b + 1 (layers * 2 * slab)
  int64_t block_positions = 16;           // positions per block
  int64_t kv_heads = 0;                   // KV heads; kv_width = kv_heads * head_dim
  int64_t head_dim = 0;                   // elements per head
  const int32_t* block_tables = nullptr;  // device: every row's sequence table, concatenated (pool block ids)
  const int32_t* row_table = nullptr;     // (rows) device: offset of the row's sequence table in block_tables
  const int32_t* row_positions = nullptr;  // (rows) device: absolute position of each row, >= 0
};

// Writes each row's K and V (fp32, K already rotated; (rows, kv_width) with row strides
// k_stride / v_stride in floats, 0 meaning kv_width) into the pool as fp16 (round to nearest)
// at the row's position. The block tables must cover every row's position.
Status paged_kv_store(const PagedKvLayout& kv, const float* k, int64_t k_stride, const float* v,
                      int64_t v_stride, int64_t rows, cudaStream_t stream);

struct PagedAttentionParams {
  float* out = nullptr;  // (rows, heads * head_dim), row stride out_stride floats
  // Or, instead of out, the rows as the packed fp16 input of a fragment_mma product of `rows`
  // columns (fragment_activation_index): the bits pack_fragment_activations makes of out.
  __half* out_packed = nullptr;
  int64_t out_stride = 0;    // 0: heads * head_dim
  const float* q = nullptr;  // (rows, heads * head_dim) rotated queries, row stride q_stride floats
  int64_t q_stride = 0;      // 0: heads * head_dim
  PagedKvLayout kv;          // k, v 16-byte aligned; block_stride a multiple of 8
  int64_t rows = 0;
  int64_t heads = 0;           // query heads; heads % kv.kv_heads == 0 (grouped-query)
  int64_t sliding_window = 0;  // 0: none; W > 0: keys (position - W, position]
};

// Head dimensions with a kernel instance; others return kUnsupported.
inline constexpr bool paged_attention_supports_head_dim(int64_t head_dim) {
  return head_dim == 64 || head_dim == 96 || head_dim == 128;
}

// Causal attention of each row over its sequence's keys [0, position] (or the window), softmax
// scale 1 / sqrt(head_dim), fp32 math over fp16 K and V.
Status paged_attention(const PagedAttentionParams& params, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
