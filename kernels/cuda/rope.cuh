// Rotary position embedding on the device, in place, normal or NEOX pairing. Twin of
// kernels/cpu/rope.hpp (same formula; angles in double, rounded once). Positions come from
// device memory, one per token, so a captured decode graph reads the current position.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"
#include "cuda/paged_kv.cuh"

namespace llama_worker::kernels::cuda {

enum class RopeStyle { kNormal, kNeox };

struct RopeParams {
  float* x = nullptr;  // (tokens, heads, head_dim) fp32, rotated in place; row stride token_stride
  const int32_t* positions = nullptr;  // (tokens) absolute positions, device memory
  int64_t tokens = 0;
  int64_t heads = 0;
  int64_t head_dim = 0;
  int64_t rotary_dims = 0;   // even, <= head_dim
  int64_t token_stride = 0;  // elements between tokens (0: heads * head_dim)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
  RopeStyle style = RopeStyle::kNormal;
  // Optional fused KV store (decode and prefill): when k_cache is set, heads from kv_head_begin on
  // are K heads; after rotation each is also written to k_cache as fp16 at row positions[t], and
  // the matching V head (v + t * token_stride + kv head * head_dim) to v_cache, as kv_store does.
  __half* k_cache = nullptr;  // (capacity, heads - kv_head_begin, head_dim)
  __half* v_cache = nullptr;
  const float* v = nullptr;
  int64_t kv_head_begin = 0;
  int64_t capacity = 0;
  // Or the fused store into a paged pool (paged.k set; k_cache null): token t is the pool row of
  // paged.row_positions[t] (which must equal positions[t]) in its sequence's blocks, and the K and V
  // heads land where paged_kv_store puts them, the same fp16 bits.
  PagedKvLayout paged;
};

Status rope_f32(const RopeParams& params, cudaStream_t stream);

// table[p * rotary_dims / 2 + i] = (cos, sin) of pair i at position p, p < positions: the values
// rope_f32 computes on the fly, bit for bit (rope_math.cuh), for kernels that rotate by lookup.
Status rope_table_fill(float2* table, int64_t positions, int64_t rotary_dims, float freq_base,
                       float freq_scale, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
