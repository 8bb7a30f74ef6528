// Arithmetic shared by the two split-KV decode kernels (attention_decode.cu, one block per query
// head; attention_decode_grouped.cu, one block per K/V head group): a key row's dot product with
// the query and a value row's weighted accumulation, each in one fixed order.
#pragma once

#include <cuda_fp16.h>

namespace llama_worker::kernels::cuda {

// dot(q, key) over kChunks x 8 dimensions: `key` holds the fp16 row as 16-byte chunks, `q4` the
// fp32 query (16-byte aligned); dimensions summed in order.
template <int kChunks>
__device__ __forceinline__ float key_dot(const uint4* key, const float4* q4) {
  float dot = 0.0f;
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const __half2* h = reinterpret_cast<const __half2*>(&key[c]);
    const float4 qa = q4[2 * c], qb = q4[2 * c + 1];
    const float2 f0 = __half22float2(h[0]), f1 = __half22float2(h[1]), f2 = __half22float2(h[2]),
                 f3 = __half22float2(h[3]);
    dot = fmaf(qa.x, f0.x, dot);
    dot = fmaf(qa.y, f0.y, dot);
    dot = fmaf(qa.z, f1.x, dot);
    dot = fmaf(qa.w, f1.y, dot);
    dot = fmaf(qb.x, f2.x, dot);
    dot = fmaf(qb.y, f2.y, dot);
    dot = fmaf(qb.z, f3.x, dot);
    dot = fmaf(qb.w, f3.y, dot);
  }
  return dot;
}

// acc[k] += weight * value[k] for the 8 fp16 dimensions of one 16-byte chunk of a value row.
__device__ __forceinline__ void accumulate_value_chunk(const uint4& value, float weight, float* acc) {
  const __half2* h = reinterpret_cast<const __half2*>(&value);
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const float2 f = __half22float2(h[k]);
    acc[2 * k] = fmaf(weight, f.x, acc[2 * k]);
    acc[2 * k + 1] = fmaf(weight, f.y, acc[2 * k + 1]);
  }
}

}  // namespace llama_worker::kernels::cuda
