#include "cuda/cuda_check.hpp"
#include "cuda/gather_rows.cuh"

namespace llama_worker::kernels::cuda {
namespace {

// One block per output row; threads stride over its width.
__global__ void gather_rows_kernel(GatherRowsParams p) {
  const int64_t r = blockIdx.x;
  const float* source = p.in + static_cast<int64_t>(p.rows[r]) * p.in_stride;
  float* target = p.out + r * p.out_stride;
  for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x) target[i] = source[i];
}

}  // namespace

Status gather_rows_f32(const GatherRowsParams& params, cudaStream_t stream) {
  GatherRowsParams p = params;
  if (p.out_stride == 0) p.out_stride = p.width;
  if (p.in_stride == 0) p.in_stride = p.width;
  if (p.out == nullptr || p.in == nullptr || p.rows == nullptr || p.count < 0 || p.width <= 0 ||
      p.out_stride < p.width || p.in_stride < p.width || p.count > 2147483647) {
    return make_error(ErrorCode::kInvalidArgument, "gather_rows_f32: null pointer or bad shape");
  }
  if (p.count == 0) return Status::ok();
  gather_rows_kernel<<<static_cast<unsigned>(p.count), 256, 0, stream>>>(p);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

}  // namespace llama_worker::kernels::cuda
