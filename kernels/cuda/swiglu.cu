#include "cuda/cuda_check.hpp"
#include "cuda/swiglu.cuh"

namespace llama_worker::kernels::cuda {
namespace {

__global__ void swiglu_kernel(SwigluParams p) {
  const int64_t count = p.rows * p.width;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < count;
       index += stride) {
    const int64_t r = index / p.width;
    const int64_t i = index % p.width;
    const float g = p.gate[r * p.gate_row_stride + i];
    const float u = p.up[r * p.up_row_stride + i];
    p.out[r * p.out_row_stride + i] = g / (1.0f + expf(-g)) * u;
  }
}

}  // namespace

Status swiglu_f32(const SwigluParams& params, cudaStream_t stream) {
  SwigluParams p = params;
  if (p.gate_row_stride == 0) p.gate_row_stride = p.width;
  if (p.up_row_stride == 0) p.up_row_stride = p.width;
  if (p.out_row_stride == 0) p.out_row_stride = p.width;
  if (p.out == nullptr || p.gate == nullptr || p.up == nullptr || p.rows < 0 || p.width <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "swiglu_f32: null pointer or bad shape");
  }
  const int64_t count = p.rows * p.width;
  if (count == 0) return Status::ok();
  const int64_t wanted = (count + 255) / 256;
  swiglu_kernel<<<static_cast<unsigned>(wanted < 65535 ? wanted : 65535), 256, 0, stream>>>(p);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

}  // namespace llama_worker::kernels::cuda
