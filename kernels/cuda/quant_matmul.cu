#include "cuda/cuda_check.hpp"
#include "cuda/launch.cuh"
#include "cuda/quant_dispatch.cuh"
#include "cuda/quant_gemv.cuh"
#include "cuda/quant_matmul.cuh"

#include <string>

namespace llama_worker::kernels::cuda {

Status check_weight_rows(gguf::TensorType type, int64_t width, int64_t row_bytes, const char* op) {
  const auto& entry = gguf::traits(type);
  const int64_t granule = entry.block_size > kChunk ? entry.block_size : kChunk;
  if (width <= 0 || width % granule != 0) {
    return make_error(ErrorCode::kUnsupported,
                      std::string(op) + ": rows of " + std::to_string(width) + " " + std::string(entry.name) +
                          " elements are not a multiple of " + std::to_string(granule));
  }
  if (row_bytes != width / entry.block_size * entry.bytes_per_block) {
    return make_error(ErrorCode::kInvalidArgument, std::string(op) + ": row of " + std::to_string(row_bytes) +
                                                       " bytes does not match " + std::to_string(width) +
                                                       " " + std::string(entry.name) + " elements");
  }
  return Status::ok();
}

namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kMaxTokensPerPass = 8;

__device__ __forceinline__ float warp_sum(float value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

template <typename Traits, int kTokens>
__global__ void __launch_bounds__(32 * kWarpsPerBlock)
    quant_matmul_kernel(QuantMatmulParams p, int64_t token_begin) {
  pdl_launch_dependents();
  pdl_wait();
  const int lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= p.out_features) return;
  const int64_t tokens = min(static_cast<int64_t>(kTokens), p.tokens - token_begin);
  const uint8_t* __restrict__ weight_row = p.weight + row * p.weight_row_bytes;
  const float* __restrict__ x = p.x + token_begin * p.x_stride;
  constexpr int kChunksPerBlock = Traits::kElements / kChunk;
  const int64_t chunks = p.in_features / kChunk;

  float sums[kTokens];
#pragma unroll
  for (int t = 0; t < kTokens; ++t) sums[t] = 0.0f;

    // Unrolled so that several chunks' loads are in flight per lane: one chunk's decode is a short
    // chain of dependent byte loads, and latency, not bandwidth, bounds a lone chain.
#pragma unroll 4
  for (int64_t c = lane; c < chunks; c += 32) {
    float w[kChunk];
    Traits::decode(weight_row + (c / kChunksPerBlock) * Traits::kBytes,
                   static_cast<int>(c % kChunksPerBlock) * kChunk, w);
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
      if (t < tokens) {
        const float4* xv = reinterpret_cast<const float4*>(x + t * p.x_stride + c * kChunk);
        const float4 a = xv[0];
        const float4 b = xv[1];
        float s = sums[t];
        s = fmaf(w[0], a.x, s);
        s = fmaf(w[1], a.y, s);
        s = fmaf(w[2], a.z, s);
        s = fmaf(w[3], a.w, s);
        s = fmaf(w[4], b.x, s);
        s = fmaf(w[5], b.y, s);
        s = fmaf(w[6], b.z, s);
        s = fmaf(w[7], b.w, s);
        sums[t] = s;
      }
    }
  }
#pragma unroll
  for (int t = 0; t < kTokens; ++t) {
    const float total = warp_sum(sums[t]);
    if (lane == 0 && t < tokens) {
      float value = total;
      if (p.bias != nullptr) value += p.bias[row];
      const int64_t index = (token_begin + t) * p.y_stride + row;
      if (p.residual != nullptr) value += p.residual[index];
      p.y[index] = value;
    }
  }
}

}  // namespace

Status quant_matmul(const QuantMatmulParams& params, cudaStream_t stream) {
  QuantMatmulParams p = params;
  if (p.x_stride == 0) p.x_stride = p.in_features;
  if (p.y_stride == 0) p.y_stride = p.out_features;
  if (p.y == nullptr || p.x == nullptr || p.weight == nullptr || p.tokens < 0 || p.out_features <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "quant_matmul: null pointer or bad shape");
  }
  LW_TRY(check_weight_rows(p.weight_type, p.in_features, p.weight_row_bytes, "quant_matmul"));
  if (p.x_stride % 4 != 0 || reinterpret_cast<uintptr_t>(p.x) % 16 != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "quant_matmul: x must be 16-byte aligned with a stride multiple of 4");
  }
  if (p.tokens == 1 && !p.never_gemv &&
      quant_gemv_supports(p.weight_type, p.weight, p.weight_row_bytes, p.in_features, p.x)) {
    QuantGemvParams gemv;  // single-token decode: the bandwidth-bound kernel
    gemv.y = p.y;
    gemv.x = p.x;
    gemv.weight = p.weight;
    gemv.weight_type = p.weight_type;
    gemv.weight_row_bytes = p.weight_row_bytes;
    gemv.bias = p.bias;
    gemv.residual = p.residual;
    gemv.in_features = p.in_features;
    gemv.out_features = p.out_features;
    gemv.int8_activations = p.int8_activations;
    return quant_gemv(gemv, stream);
  }
  const unsigned blocks = static_cast<unsigned>((p.out_features + kWarpsPerBlock - 1) / kWarpsPerBlock);
  return visit_weight_type(p.weight_type, [&](auto traits) -> Status {
    using Traits = decltype(traits);
    for (int64_t begin = 0; begin < p.tokens; begin += kMaxTokensPerPass) {
      if (p.tokens - begin == 1) {
        LW_CUDA_TRY(launch(quant_matmul_kernel<Traits, 1>, blocks, 32 * kWarpsPerBlock, 0, stream, p, begin));
      } else {
        LW_CUDA_TRY(launch(quant_matmul_kernel<Traits, kMaxTokensPerPass>, blocks, 32 * kWarpsPerBlock, 0,
                           stream, p, begin));
      }
    }
    return Status::ok();
  });
}

}  // namespace llama_worker::kernels::cuda
