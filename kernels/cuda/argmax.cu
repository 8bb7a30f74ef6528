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

}  // namespace

Status argmax_f32(int32_t* result, const float* logits, int64_t count, cudaStream_t stream) {
  if (result == nullptr || logits == nullptr || count <= 0 || count > INT32_MAX) {
    return make_error(ErrorCode::kInvalidArgument, "argmax_f32: null pointer or bad count");
  }
  argmax_kernel<<<1, kThreads, 0, stream>>>(result, logits, count);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

}  // namespace llama_worker::kernels::cuda
