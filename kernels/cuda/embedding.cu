#include "cuda/cuda_check.hpp"
#include "cuda/embedding.cuh"
#include "cuda/quant_dispatch.cuh"

#include <cmath>

namespace llama_worker::kernels::cuda {
namespace {

template <typename Traits>
__global__ void embedding_kernel(EmbeddingParams p) {
  const int64_t t = blockIdx.x;
  const int32_t token = p.tokens[t];
  float* out = p.out + t * p.width;
  const int64_t chunks = p.width / kChunk;
  if (token < 0 || token >= p.vocab) {
    for (int64_t i = threadIdx.x; i < p.width; i += blockDim.x) out[i] = NAN;
    if (threadIdx.x == 0 && p.error_flag != nullptr) *p.error_flag = 1;
    return;
  }
  const uint8_t* row = p.table + static_cast<int64_t>(token) * p.table_row_bytes;
  constexpr int kChunksPerBlock = Traits::kElements / kChunk;
  for (int64_t c = threadIdx.x; c < chunks; c += blockDim.x) {
    float values[kChunk];
    Traits::decode(row + (c / kChunksPerBlock) * Traits::kBytes,
                   static_cast<int>(c % kChunksPerBlock) * kChunk, values);
    for (int i = 0; i < kChunk; ++i) out[c * kChunk + i] = values[i];
  }
}

}  // namespace

Status embedding_lookup(const EmbeddingParams& p, cudaStream_t stream) {
  if (p.out == nullptr || p.tokens == nullptr || p.table == nullptr || p.token_count < 0 || p.vocab <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "embedding_lookup: null pointer or bad shape");
  }
  LW_TRY(check_weight_rows(p.table_type, p.width, p.table_row_bytes, "embedding_lookup"));
  if (p.token_count == 0) return Status::ok();
  return visit_weight_type(p.table_type, [&](auto traits) -> Status {
    embedding_kernel<decltype(traits)><<<static_cast<unsigned>(p.token_count), 128, 0, stream>>>(p);
    LW_CUDA_TRY_LAUNCH();
    return Status::ok();
  });
}

}  // namespace llama_worker::kernels::cuda
