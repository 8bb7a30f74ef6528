// Prefill attention: one block per (tile of 32 queries, head), 8 warps of 4 queries each. Key and
// value rows are staged through shared memory 32 at a time (fp16 -> fp32 once per block, shared by
// its 32 queries); lane j of a warp scores key j against the warp's 4 queries, the running max and
// sum are updated per query (online softmax, warp butterflies), and each lane accumulates its own
// output dimensions over the tile's keys in key order. The order of every sum is fixed, so the
// result is the same bits on every run.
#include <cuda_fp16.h>

#include <cmath>
#include <string>

#include "cuda/attention_kernels.cuh"
#include "cuda/block_reduce.cuh"
#include "cuda/cuda_check.hpp"

namespace llama_worker::kernels::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kQueriesPerWarp = 4;
constexpr int kQueriesPerBlock = kWarps * kQueriesPerWarp;
constexpr int kKeysPerTile = 32;

// Shared floats: K tile (rows padded to head_dim + 1: lane j reads row j, no bank conflicts),
// V tile, and per warp the 4 queries interleaved (one float4 per dimension), plus 2 ints.
size_t prefill_shared_bytes(int64_t head_dim) {
  return sizeof(float) * static_cast<size_t>(kKeysPerTile * (head_dim + 1) + kKeysPerTile * head_dim +
                                             kWarps * kQueriesPerWarp * head_dim + 4);
}

template <int kDimsPerLane>
__global__ void __launch_bounds__(kWarps * 32) attention_prefill_kernel(AttentionParams p) {
  extern __shared__ float shared[];
  const int head_dim = static_cast<int>(p.head_dim);
  float* k_tile = shared;
  float* v_tile = k_tile + kKeysPerTile * (head_dim + 1);
  float4* q_tile = reinterpret_cast<float4*>(
      v_tile + kKeysPerTile * head_dim);  // 16-byte aligned: 64 hd + 32 floats before
  int* key_range = reinterpret_cast<int*>(q_tile + kWarps * head_dim);
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int64_t head = blockIdx.y;
  const int64_t kv_head = head / (p.heads / p.kv_heads);
  const int64_t q_begin =
      (static_cast<int64_t>(gridDim.x) - 1 - blockIdx.x) * kQueriesPerBlock;  // longest rows first
  const int64_t row_width = p.kv_heads * p.head_dim;

  // Visible keys of each query: [first, last]; a missing query (past the batch) sees none.
  int64_t first[kQueriesPerWarp], last[kQueriesPerWarp];
#pragma unroll
  for (int i = 0; i < kQueriesPerWarp; ++i) {
    const int64_t t = q_begin + warp * kQueriesPerWarp + i;
    last[i] = t < p.q_tokens ? p.positions[t] : -1;
    first[i] =
        p.sliding_window > 0 && last[i] - p.sliding_window + 1 > 0 ? last[i] - p.sliding_window + 1 : 0;
  }
  float4* q = q_tile + warp * head_dim;
  for (int d = lane; d < head_dim; d += 32) {
    float v[kQueriesPerWarp];
#pragma unroll
    for (int i = 0; i < kQueriesPerWarp; ++i) {
      const int64_t t = q_begin + warp * kQueriesPerWarp + i;
      v[i] = t < p.q_tokens ? p.q[t * p.q_stride + head * p.head_dim + d] * p.scale : 0.0f;
    }
    q[d] = make_float4(v[0], v[1], v[2], v[3]);
  }
  // The block's key range: warp 0's lane i takes query i of the block.
  if (warp == 0) {
    const int64_t t = q_begin + lane;
    const int64_t position = t < p.q_tokens ? p.positions[t] : -1;
    const int64_t lo = position < 0 ? INT32_MAX
                       : p.sliding_window > 0 && position - p.sliding_window + 1 > 0
                           ? position - p.sliding_window + 1
                           : 0;
    int low = static_cast<int>(lo), high = static_cast<int>(position);
    for (int offset = 16; offset > 0; offset >>= 1) {
      low = min(low, __shfl_xor_sync(0xffffffffu, low, offset));
      high = max(high, __shfl_xor_sync(0xffffffffu, high, offset));
    }
    if (lane == 0) {
      key_range[0] = low;
      key_range[1] = high;
    }
  }
  __syncthreads();
  const int64_t block_first = key_range[0];
  const int64_t block_last = key_range[1];
  int64_t warp_first = INT64_MAX, warp_last = -1;
#pragma unroll
  for (int i = 0; i < kQueriesPerWarp; ++i) {
    if (last[i] < 0) continue;
    warp_first = min(warp_first, first[i]);
    warp_last = max(warp_last, last[i]);
  }

  float running_max[kQueriesPerWarp], running_sum[kQueriesPerWarp], acc[kQueriesPerWarp][kDimsPerLane];
#pragma unroll
  for (int i = 0; i < kQueriesPerWarp; ++i) {
    running_max[i] = -INFINITY;
    running_sum[i] = 0.0f;
#pragma unroll
    for (int k = 0; k < kDimsPerLane; ++k) acc[i][k] = 0.0f;
  }

  for (int64_t key0 = block_first; key0 <= block_last; key0 += kKeysPerTile) {
    __syncthreads();  // the previous tile is consumed
    for (int e = threadIdx.x; e < kKeysPerTile * head_dim; e += blockDim.x) {
      const int j = e / head_dim;
      const int d = e % head_dim;
      const int64_t key = key0 + j;
      float k_value = 0.0f, v_value = 0.0f;  // rows past the block's last key are never read from the cache
      if (key <= block_last) {
        const int64_t at = key * row_width + kv_head * p.head_dim + d;
        k_value = __half2float(p.k_cache[at]);
        v_value = __half2float(p.v_cache[at]);
      }
      k_tile[j * (head_dim + 1) + d] = k_value;
      v_tile[j * head_dim + d] = v_value;
    }
    __syncthreads();
    if (key0 > warp_last || key0 + kKeysPerTile - 1 < warp_first) continue;  // no visible key for this warp

    const int64_t key = key0 + lane;
    float score[kQueriesPerWarp] = {};
    const float* k_row = k_tile + lane * (head_dim + 1);
    for (int d = 0; d < head_dim; ++d) {
      const float k_value = k_row[d];
      const float4 qd = q[d];
      score[0] = fmaf(qd.x, k_value, score[0]);
      score[1] = fmaf(qd.y, k_value, score[1]);
      score[2] = fmaf(qd.z, k_value, score[2]);
      score[3] = fmaf(qd.w, k_value, score[3]);
    }
    float weight[kQueriesPerWarp];
#pragma unroll
    for (int i = 0; i < kQueriesPerWarp; ++i) {
      const bool visible = key >= first[i] && key <= last[i];
      const float s = visible ? score[i] : -INFINITY;
      const float new_max = fmaxf(running_max[i], warp_reduce_max(s));
      // Nothing visible yet: no weight, nothing to rescale.
      weight[i] = new_max == -INFINITY ? 0.0f : expf(s - new_max);
      const float correction = new_max == -INFINITY ? 1.0f : expf(running_max[i] - new_max);
      running_sum[i] = running_sum[i] * correction + warp_reduce_sum(weight[i]);
      running_max[i] = new_max;
#pragma unroll
      for (int k = 0; k < kDimsPerLane; ++k) acc[i][k] *= correction;
    }
    for (int j = 0; j < kKeysPerTile; ++j) {
      float w[kQueriesPerWarp];
#pragma unroll
      for (int i = 0; i < kQueriesPerWarp; ++i) w[i] = __shfl_sync(0xffffffffu, weight[i], j);
      const float* v_row = v_tile + j * head_dim;
#pragma unroll
      for (int k = 0; k < kDimsPerLane; ++k) {
        const int d = lane + 32 * k;
        const float v_value = d < head_dim ? v_row[d] : 0.0f;
#pragma unroll
        for (int i = 0; i < kQueriesPerWarp; ++i) acc[i][k] = fmaf(w[i], v_value, acc[i][k]);
      }
    }
  }

#pragma unroll
  for (int i = 0; i < kQueriesPerWarp; ++i) {
    const int64_t t = q_begin + warp * kQueriesPerWarp + i;
    if (t >= p.q_tokens) continue;
    const float inverse = 1.0f / running_sum[i];
#pragma unroll
    for (int k = 0; k < kDimsPerLane; ++k) {
      const int d = lane + 32 * k;
      if (d < head_dim) p.out[(t * p.heads + head) * p.head_dim + d] = acc[i][k] * inverse;
    }
  }
}

template <int kDimsPerLane>
Status launch_prefill(const AttentionParams& p, cudaStream_t stream) {
  const size_t shared_bytes = prefill_shared_bytes(p.head_dim);
  if (shared_bytes > 48 * 1024) {
    LW_CUDA_TRY(cudaFuncSetAttribute(attention_prefill_kernel<kDimsPerLane>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(shared_bytes)));
  }
  const dim3 grid(static_cast<unsigned>((p.q_tokens + kQueriesPerBlock - 1) / kQueriesPerBlock),
                  static_cast<unsigned>(p.heads));
  attention_prefill_kernel<kDimsPerLane><<<grid, kWarps * 32, shared_bytes, stream>>>(p);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

}  // namespace

Status attention_prefill(const AttentionParams& p, cudaStream_t stream) {
  if (p.capacity > INT32_MAX)
    return make_error(ErrorCode::kUnsupported, "attention: KV cache over 2^31 positions");
  if (p.head_dim <= 64) return launch_prefill<2>(p, stream);
  if (p.head_dim <= 96) return launch_prefill<3>(p, stream);
  if (p.head_dim <= 128) return launch_prefill<4>(p, stream);
  return launch_prefill<8>(p, stream);
}

}  // namespace llama_worker::kernels::cuda
