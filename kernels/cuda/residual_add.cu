#include "cuda/cuda_check.hpp"
#include "cuda/residual_add.cuh"

namespace llama_worker::kernels::cuda {
namespace {

// Grid-stride loop: any count works with a bounded grid.
__global__ void residual_add_f32_kernel(float* out, const float* a, const float* b, int64_t count) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    out[i] = a[i] + b[i];
  }
}

}  // namespace

Status residual_add_f32(float* out, const float* a, const float* b, int64_t count, cudaStream_t stream) {
  if (count < 0) return make_error(ErrorCode::kInvalidArgument, "residual_add_f32: negative count");
  if (count == 0) return Status::ok();
  constexpr int kThreads = 256;
  const int64_t wanted_blocks = (count + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(wanted_blocks < 65535 ? wanted_blocks : 65535);
  residual_add_f32_kernel<<<blocks, kThreads, 0, stream>>>(out, a, b, count);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

}  // namespace llama_worker::kernels::cuda
