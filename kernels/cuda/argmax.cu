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

// kRejectInfinite: an infinite logit poisons the result as a NaN does.
template <bool kRejectInfinite>
__global__ void __launch_bounds__(kThreads)
    argmax_kernel(int32_t* result_rows, const float* logits_rows, int64_t count, int64_t row_stride) {
  __shared__ float values[kThreads / 32];
  __shared__ int64_t indices[kThreads / 32];
  const float* logits = logits_rows + static_cast<int64_t>(blockIdx.x) * row_stride;
  int32_t* result = result_rows + blockIdx.x;
  Best best{-INFINITY, count};  // index count: "none yet", loses every comparison by index
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const float v = logits[i];
    const bool bad = kRejectInfinite ? !isfinite(v) : isnan(v);
    best = better(best, Best{v, bad ? int64_t{-1} : i});
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

}  // namespace

Status argmax_f32(int32_t* result, const float* logits, int64_t count, cudaStream_t stream) {
  if (result == nullptr || logits == nullptr || count <= 0 || count > INT32_MAX) {
    return make_error(ErrorCode::kInvalidArgument, "argmax_f32: null pointer or bad count");
  }
  argmax_kernel<false><<<1, kThreads, 0, stream>>>(result, logits, count, 0);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

Status argmax_rows_f32(int32_t* results, const float* logits, int64_t rows, int64_t count, int64_t row_stride,
                       cudaStream_t stream) {
  if (results == nullptr || logits == nullptr || rows <= 0 || rows > 65535 || count <= 0 ||
      count > INT32_MAX || row_stride < count) {
    return make_error(ErrorCode::kInvalidArgument, "argmax_rows_f32: null pointer or bad shape");
  }
  argmax_kernel<true>
      <<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(results, logits, count, row_stride);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

}  // namespace llama_worker::kernels::cuda
