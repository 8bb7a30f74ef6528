#include "cuda/argmax.cuh"
#include "cuda/cuda_check.hpp"

#include <cmath>

namespace llama_worker::kernels::cuda {
namespace {

constexpr int kThreads = 1024;

struct Best {
  float value;
  int64_t index;  // -1: saw a NaN
};

__device__ __forceinline__ Best better(Best a, Best b) {
  if (a.index < 0) return a;
  if (b.index < 0) return b;
  if (b.value > a.value || (b.value == a.value && b.index < a.index)) return b;
  return a;
}

__global__ void __launch_bounds__(kThreads)
    argmax_kernel(int32_t* result, const float* logits, int64_t count) {
  __shared__ float values[kThreads / 32];
  __shared__ int64_t indices[kThreads / 32];
  Best best{-INFINITY, count};  // index count: "none yet", loses every comparison by index
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const float v = logits[i];
    best = better(best, Best{v, isnan(v) ? int64_t{-1} : i});
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    Best other{__shfl_xor_sync(0xffffffffu, best.value, offset),
               __shfl_xor_sync(0xffffffffu, best.index, offset)};
    best = better(best, other);
  }
  if (threadIdx.x % 32 == 0) {
    values[threadIdx.x / 32] = best.value;
    indices[threadIdx.x / 32] = best.index;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    Best total{values[0], indices[0]};
    for (int w = 1; w < kThreads / 32; ++w) total = better(total, Best{values[w], indices[w]});
    *result = total.index < 0 || total.index >= count ? -1 : static_cast<int32_t>(total.index);
  }
}

// Rows: block (slice, row) reduces its slice of the row with 4 loads in flight per thread and
// writes its best (index -1: a non-finite logit) to partials; then one warp per row combines the
// slices. "better" is a total order (larger value, then lower index), so the result does not
// depend on how the row is cut.
constexpr int kRowThreads = 256;
constexpr int kRowSlices = 16;
constexpr int kRowUnroll = 4;

__device__ __forceinline__ Best warp_best(Best best) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    Best other{__shfl_xor_sync(0xffffffffu, best.value, offset),
               __shfl_xor_sync(0xffffffffu, best.index, offset)};
    best = better(best, other);
  }
  return best;
}

__global__ void __launch_bounds__(kRowThreads)
    argmax_slices_kernel(Best* partials, const float* logits_rows, int64_t count, int64_t row_stride) {
  __shared__ Best warps[kRowThreads / 32];
  const float* logits = logits_rows + static_cast<int64_t>(blockIdx.y) * row_stride;
  const int64_t per_slice = (count + kRowSlices - 1) / kRowSlices;
  const int64_t begin = blockIdx.x * per_slice;
  const int64_t end = min(count, begin + per_slice);
  Best best{-INFINITY, count};
  for (int64_t base = begin + threadIdx.x; base < end; base += kRowUnroll * kRowThreads) {
    float v[kRowUnroll];
#pragma unroll
    for (int j = 0; j < kRowUnroll; ++j) {
      const int64_t i = base + j * kRowThreads;
      v[j] = i < end ? logits[i] : 0.0f;
    }
#pragma unroll
    for (int j = 0; j < kRowUnroll; ++j) {
      const int64_t i = base + j * kRowThreads;
      if (i < end) best = better(best, Best{v[j], isfinite(v[j]) ? i : int64_t{-1}});
    }
  }
  best = warp_best(best);
  if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = best;
  __syncthreads();
  if (threadIdx.x == 0) {
    Best total = warps[0];
    for (int w = 1; w < kRowThreads / 32; ++w) total = better(total, warps[w]);
    partials[blockIdx.y * kRowSlices + blockIdx.x] = total;
  }
}

__global__ void argmax_combine_kernel(int32_t* results, const Best* partials, int64_t count) {
  Best best =
      threadIdx.x < kRowSlices ? partials[blockIdx.x * kRowSlices + threadIdx.x] : Best{-INFINITY, count};
  best = warp_best(best);
  if (threadIdx.x == 0)
    results[blockIdx.x] = best.index < 0 || best.index >= count ? -1 : static_cast<int32_t>(best.index);
}

}  // namespace

Status argmax_f32(int32_t* result, const float* logits, int64_t count, cudaStream_t stream) {
  if (result == nullptr || logits == nullptr || count <= 0 || count > INT32_MAX) {
    return make_error(ErrorCode::kInvalidArgument, "argmax_f32: null pointer or bad count");
  }
  argmax_kernel<<<1, kThreads, 0, stream>>>(result, logits, count);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

int64_t argmax_rows_workspace_bytes(int64_t rows) {
  return rows * kRowSlices * static_cast<int64_t>(sizeof(Best));
}

Status argmax_rows_f32(int32_t* results, void* workspace, const float* logits, int64_t rows, int64_t count,
                       int64_t row_stride, cudaStream_t stream) {
  if (results == nullptr || workspace == nullptr || logits == nullptr || rows <= 0 || rows > 65535 ||
      count <= 0 || count > INT32_MAX || row_stride < count) {
    return make_error(ErrorCode::kInvalidArgument, "argmax_rows_f32: null pointer or bad shape");
  }
  auto* partials = static_cast<Best*>(workspace);
  argmax_slices_kernel<<<dim3(kRowSlices, static_cast<unsigned>(rows)), kRowThreads, 0, stream>>>(
      partials, logits, count, row_stride);
  LW_CUDA_TRY_LAUNCH();
  argmax_combine_kernel<<<static_cast<unsigned>(rows), 32, 0, stream>>>(results, partials, count);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

}  // namespace llama_worker::kernels::cuda
