#include "cuda/cuda_check.hpp"
#include "cuda/launch.cuh"
#include "cuda/rope.cuh"
#include "cuda/rope_math.cuh"

namespace llama_worker::kernels::cuda {
namespace {

// One block per (token, head), one thread per rotated pair: decode has too few tokens to fill
// the GPU any other way.
__global__ void rope_kernel(RopeParams p) {
  pdl_launch_dependents();
  pdl_wait();
  const int64_t t = blockIdx.x;
  const int64_t head = blockIdx.y;
  const int64_t half = p.rotary_dims / 2;
  float* x = p.x + t * p.token_stride + head * p.head_dim;
  for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    const float2 cs = rope_cos_sin(p.positions[t], i, p.rotary_dims, p.freq_base, p.freq_scale);
    rope_rotate(x, p.style == RopeStyle::kNeox ? i : 2 * i,
                p.style == RopeStyle::kNeox ? i + half : 2 * i + 1, cs);
  }
  if ((p.k_cache == nullptr && p.paged.k == nullptr) || head < p.kv_head_begin) return;
  // Fused KV store: the rotated K head and its V head, as fp16, at the token's cache row.
  const int64_t row = p.positions[t];
  if (row < 0 || (p.k_cache != nullptr && row >= p.capacity)) return;  // never write out of bounds
  __syncthreads();                                                     // every pair of this head rotated
  const int64_t kv_head = head - p.kv_head_begin;
  const int64_t width = (p.heads - p.kv_head_begin) * p.head_dim;
  const float* v = p.v + t * p.token_stride + kv_head * p.head_dim;
  __half* k_out = nullptr;
  __half* v_out = nullptr;
  if (p.k_cache != nullptr) {
    k_out = p.k_cache + row * width + kv_head * p.head_dim;
    v_out = p.v_cache + row * width + kv_head * p.head_dim;
  } else {  // paged_kv_store's address of the row
    const PagedKvLayout& kv = p.paged;
    const int64_t block = kv.block_tables[kv.row_table[t] + row / kv.block_positions];
    const int64_t at = block * kv.block_stride + (row % kv.block_positions) * width + kv_head * p.head_dim;
    k_out = kv.k + at;
    v_out = kv.v + at;
  }
  for (int64_t d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
    k_out[d] = __float2half_rn(x[d]);
    v_out[d] = __float2half_rn(v[d]);
  }
}

__global__ void rope_table_kernel(float2* table, int64_t positions, int64_t rotary_dims, float freq_base,
                                  float freq_scale) {
  const int64_t half = rotary_dims / 2;
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= positions * half) return;
  table[index] = rope_cos_sin(index / half, index % half, rotary_dims, freq_base, freq_scale);
}

}  // namespace

Status rope_table_fill(float2* table, int64_t positions, int64_t rotary_dims, float freq_base,
                       float freq_scale, cudaStream_t stream) {
  if (table == nullptr || positions <= 0 || rotary_dims <= 0 || rotary_dims % 2 != 0) {
    return make_error(ErrorCode::kInvalidArgument, "rope_table_fill: null table or bad shape");
  }
  const int64_t count = positions * (rotary_dims / 2);
  rope_table_kernel<<<static_cast<unsigned>((count + 255) / 256), 256, 0, stream>>>(
      table, positions, rotary_dims, freq_base, freq_scale);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

Status rope_f32(const RopeParams& params, cudaStream_t stream) {
  RopeParams p = params;
  if (p.token_stride == 0) p.token_stride = p.heads * p.head_dim;
  if (p.x == nullptr || p.positions == nullptr || p.tokens < 0 || p.heads <= 0 || p.head_dim <= 0 ||
      p.rotary_dims <= 0 || p.rotary_dims % 2 != 0 || p.rotary_dims > p.head_dim) {
    return make_error(ErrorCode::kInvalidArgument,
                      "rope_f32: null pointer or bad shape (rotary dims must be even and <= head_dim)");
  }
  if (p.k_cache != nullptr && (p.v_cache == nullptr || p.v == nullptr || p.kv_head_begin < 0 ||
                               p.kv_head_begin >= p.heads || p.capacity <= 0)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "rope_f32: fused KV store needs both caches, v, a K head range and a capacity");
  }
  if (p.paged.k != nullptr &&
      (p.k_cache != nullptr || p.v == nullptr || p.paged.v == nullptr || p.paged.block_tables == nullptr ||
       p.paged.row_table == nullptr || p.paged.block_positions <= 0 || p.kv_head_begin < 0 ||
       p.kv_head_begin >= p.heads || p.paged.kv_heads != p.heads - p.kv_head_begin ||
       p.paged.head_dim != p.head_dim)) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "rope_f32: the fused paged store needs v, the pool's K/V and tables, and K heads of the pool's "
        "shape (and no contiguous cache beside it)");
  }
  if (p.tokens == 0) return Status::ok();
  const dim3 grid(static_cast<unsigned>(p.tokens), static_cast<unsigned>(p.heads));
  const int64_t half = p.rotary_dims / 2;
  const unsigned threads = static_cast<unsigned>(half < 32 ? 32 : (half > 256 ? 256 : (half + 31) / 32 * 32));
  LW_CUDA_TRY(launch(rope_kernel, grid, threads, 0, stream, p));
  return Status::ok();
}

}  // namespace llama_worker::kernels::cuda
