#include "cuda/cuda_check.hpp"
#include "cuda/rope.cuh"

namespace llama_worker::kernels::cuda {
namespace {

// One block per (token, head), one thread per rotated pair: decode has too few tokens to fill
// the GPU any other way.
__global__ void rope_kernel(RopeParams p) {
  const int64_t t = blockIdx.x;
  const int64_t head = blockIdx.y;
  const int64_t half = p.rotary_dims / 2;
  const double position = static_cast<double>(p.positions[t]) * static_cast<double>(p.freq_scale);
  float* x = p.x + t * p.token_stride + head * p.head_dim;
  for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    const double theta = position * pow(static_cast<double>(p.freq_base), -2.0 * static_cast<double>(i) /
                                                                              static_cast<double>(p.rotary_dims));
    double sin_theta = 0.0;
    double cos_theta = 0.0;
    sincos(theta, &sin_theta, &cos_theta);
    const float c = static_cast<float>(cos_theta);
    const float s = static_cast<float>(sin_theta);
    const int64_t ia = p.style == RopeStyle::kNeox ? i : 2 * i;
    const int64_t ib = p.style == RopeStyle::kNeox ? i + half : 2 * i + 1;
    const float a = x[ia];
    const float b = x[ib];
    x[ia] = a * c - b * s;
    x[ib] = a * s + b * c;
  }
}

}  // namespace

Status rope_f32(const RopeParams& params, cudaStream_t stream) {
  RopeParams p = params;
  if (p.token_stride == 0) p.token_stride = p.heads * p.head_dim;
  if (p.x == nullptr || p.positions == nullptr || p.tokens < 0 || p.heads <= 0 || p.head_dim <= 0 ||
      p.rotary_dims <= 0 || p.rotary_dims % 2 != 0 || p.rotary_dims > p.head_dim) {
    return make_error(ErrorCode::kInvalidArgument, "rope_f32: null pointer or bad shape (rotary dims must be even and <= head_dim)");
  }
  if (p.tokens == 0) return Status::ok();
  const dim3 grid(static_cast<unsigned>(p.tokens), static_cast<unsigned>(p.heads));
  const int64_t half = p.rotary_dims / 2;
  const unsigned threads = static_cast<unsigned>(half < 32 ? 32 : (half > 256 ? 256 : (half + 31) / 32 * 32));
  rope_kernel<<<grid, threads, 0, stream>>>(p);
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

}  // namespace llama_worker::kernels::cuda
