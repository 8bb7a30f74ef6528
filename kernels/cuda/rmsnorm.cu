#include "cuda/block_reduce.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/fragment_mma.cuh"
#include "cuda/launch.cuh"
#include "cuda/rmsnorm.cuh"

namespace llama_worker::kernels::cuda {
namespace {

// 1024 threads: a decode step normalises one row, and its latency is a few rounds of loads.
constexpr int kThreads = 1024;

__global__ void __launch_bounds__(kThreads) rmsnorm_kernel(float* out, const float* x, const float* weight,
                                                           int64_t width, float eps, __half* packed) {
  __shared__ float scratch[32];
  pdl_launch_dependents();
  pdl_wait();
  const float* row = x + blockIdx.x * width;
  float* out_row = out + blockIdx.x * width;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) sum = fmaf(row[i], row[i], sum);
  sum = block_reduce_sum(sum, scratch);
  const float scale = 1.0f / sqrtf(sum / static_cast<float>(width) + eps);
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    const float value = row[i] * scale * weight[i];
    out_row[i] = value;
    if (packed != nullptr)
      packed[fragment_activation_index(blockIdx.x, i, gridDim.x)] = __float2half_rn(value);
  }
}

}  // namespace

Status rmsnorm_f32(float* out, const float* x, const float* weight, int64_t rows, int64_t width, float eps,
                   cudaStream_t stream, __half* packed) {
  if (out == nullptr || x == nullptr || weight == nullptr || rows < 0 || width <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "rmsnorm_f32: null pointer or bad shape");
  }
  if (packed != nullptr && width % 16 != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "rmsnorm_f32: a packed output needs a width multiple of 16");
  }
  if (rows == 0) return Status::ok();
  LW_CUDA_TRY(launch(rmsnorm_kernel, static_cast<unsigned>(rows), kThreads, 0, stream, out, x, weight, width,
                     eps, packed));
  return Status::ok();
}

}  // namespace llama_worker::kernels::cuda
