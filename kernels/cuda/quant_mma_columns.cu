#include <cuda_fp16.h>

#include <string>

#include "cuda/cuda_check.hpp"
#include "cuda/launch.cuh"
#include "cuda/quant_dispatch.cuh"
#include "cuda/quant_mma_columns.cuh"

namespace llama_worker::kernels::cuda {
namespace {

// A block owns 16 output rows; its 4 warps split each 128-wide input step into four 32-wide
// quarters (one per warp) and add their partial sums in warp order at the end: a fixed order, so
// the split changes no column's bits between calls. 16 rows per block keep every SM busy on the
// narrow matrices of one layer (a 64-row block left most SMs idle).
constexpr int kWarps = 4;
constexpr int kRows = 16;                     // output rows per block
constexpr int kWarpStep = 32;                 // input elements per warp per step
constexpr int kStep = kWarps * kWarpStep;     // input elements per block step
constexpr int kWeightHalves = kWarpStep + 8;  // padded rows: an ldmatrix's 8 rows in 8 bank groups
constexpr int kXHalves = kStep + 8;
constexpr int kMaxColumns = 64;  // columns per launch (8 tiles of 8)

__device__ __forceinline__ uint32_t smem_address(const void* pointer) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(pointer));
}

__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const __half* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(row)));
}

__device__ __forceinline__ void ldmatrix_x2(uint32_t& r0, uint32_t& r1, const __half* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r0), "=r"(r1)
               : "r"(smem_address(row)));
}

// This warp's quarter: rows [row0, row0 + 16) x inputs [k0, k0 + 32), decoded and rounded to fp16
// into tile[row][k]; rows past the end repeat the last row (their results are dropped).
template <typename Traits>
__device__ __forceinline__ void load_weight_quarter(__half* tile, const uint8_t* weight, int64_t row_bytes,
                                                    int64_t rows, int64_t row0, int64_t k0, int lane) {
  constexpr int kChunksPerBlock = Traits::kElements / kChunk;
  constexpr int kChunksPerRow = kWarpStep / kChunk;  // 4
#pragma unroll
  for (int i = lane; i < kRows * kChunksPerRow; i += 32) {
    const int r = i / kChunksPerRow;
    const int c = i % kChunksPerRow;
    const int64_t row = min(row0 + r, rows - 1);
    const int64_t chunk = (k0 + c * kChunk) / kChunk;
    float w[kChunk];
    Traits::decode(weight + row * row_bytes + (chunk / kChunksPerBlock) * Traits::kBytes,
                   static_cast<int>(chunk % kChunksPerBlock) * kChunk, w);
    __align__(16) __half h[kChunk];
#pragma unroll
    for (int e = 0; e < kChunk; ++e) h[e] = __float2half_rn(w[e]);
    *reinterpret_cast<uint4*>(tile + r * kWeightHalves + c * kChunk) = *reinterpret_cast<const uint4*>(h);
  }
}

// Adds the other warps' accumulators to warp 0's in warp order (1, 2, 3), through `scratch`.
template <int kTiles>
__device__ __forceinline__ void reduce_over_warps(float (&acc)[kTiles][4], float* scratch, int warp,
                                                  int lane) {
  if (warp > 0) {
#pragma unroll
    for (int t = 0; t < kTiles; ++t) {
#pragma unroll
      for (int e = 0; e < 4; ++e) scratch[(((warp - 1) * kTiles + t) * 4 + e) * 32 + lane] = acc[t][e];
    }
  }
  __syncthreads();
  if (warp == 0) {
#pragma unroll
    for (int w = 1; w < kWarps; ++w) {
#pragma unroll
      for (int t = 0; t < kTiles; ++t) {
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[t][e] += scratch[(((w - 1) * kTiles + t) * 4 + e) * 32 + lane];
      }
    }
  }
  __syncthreads();
}

template <typename Traits, int kTiles, bool kSwiglu>
__global__ void __launch_bounds__(32 * kWarps)
    quant_mma_columns_kernel(QuantGemvColumnsParams p, int64_t column0) {
  __shared__ __align__(16) __half weight_tile[kWarps * kRows * kWeightHalves];
  __shared__ __align__(16) __half up_tile[kSwiglu ? kWarps * kRows * kWeightHalves : 8];
  // The columns' activations of one step; after the loop, the warps' partial sums.
  constexpr int kXBytes = 8 * kTiles * kXHalves * 2;
  constexpr int kReduceBytes = (kWarps - 1) * kTiles * 4 * 32 * 4;
  __shared__ __align__(16) unsigned char shared_x[kXBytes > kReduceBytes ? kXBytes : kReduceBytes];
  __half* x_tile = reinterpret_cast<__half*>(shared_x);
  pdl_launch_dependents();
  pdl_wait();
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kRows;
  const int64_t columns = min(static_cast<int64_t>(8 * kTiles), p.columns - column0);
  __half* my_tile = weight_tile + warp * kRows * kWeightHalves;
  __half* my_up_tile = up_tile + (kSwiglu ? warp * kRows * kWeightHalves : 0);
  float acc[kTiles][4];
  float up_acc[kSwiglu ? kTiles : 1][4];
#pragma unroll
  for (int t = 0; t < kTiles; ++t) {
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[t][e] = 0.0f;
  }
#pragma unroll
  for (int t = 0; t < (kSwiglu ? kTiles : 1); ++t) {
#pragma unroll
    for (int e = 0; e < 4; ++e) up_acc[t][e] = 0.0f;
  }

  for (int64_t k0 = 0; k0 < p.in_features; k0 += kStep) {
    const int64_t quarter = k0 + warp * kWarpStep;
    load_weight_quarter<Traits>(my_tile, p.weight, p.weight_row_bytes, p.out_features, row0, quarter, lane);
    if constexpr (kSwiglu)
      load_weight_quarter<Traits>(my_up_tile, p.up_weight, p.weight_row_bytes, p.out_features, row0, quarter,
                                  lane);
    // Activations: x_tile[column][k], columns past the call's count are zeros.
    for (int i = threadIdx.x; i < 8 * kTiles * (kStep / 4); i += 32 * kWarps) {
      const int n = i / (kStep / 4);
      const int q = i % (kStep / 4);
      float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (n < columns) v = *reinterpret_cast<const float4*>(p.x + (column0 + n) * p.x_stride + k0 + 4 * q);
      __half2* target = reinterpret_cast<__half2*>(x_tile + n * kXHalves + 4 * q);
      target[0] = __floats2half2_rn(v.x, v.y);
      target[1] = __floats2half2_rn(v.z, v.w);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kWarpStep; kk += 16) {
      uint32_t a[4];
      ldmatrix_x4(a, my_tile + (lane % 16) * kWeightHalves + kk + (lane / 16) * 8);
      uint32_t u[4] = {0, 0, 0, 0};
      if constexpr (kSwiglu) ldmatrix_x4(u, my_up_tile + (lane % 16) * kWeightHalves + kk + (lane / 16) * 8);
#pragma unroll
      for (int t = 0; t < kTiles; ++t) {
        uint32_t b0, b1;
        ldmatrix_x2(b0, b1,
                    x_tile + (8 * t + lane % 8) * kXHalves + warp * kWarpStep + kk + ((lane / 8) % 2) * 8);
        mma_16816(acc[t], a, b0, b1);
        if constexpr (kSwiglu) mma_16816(up_acc[t], u, b0, b1);
      }
    }
    __syncthreads();
  }
  float* scratch = reinterpret_cast<float*>(shared_x);
  reduce_over_warps<kTiles>(acc, scratch, warp, lane);
  if constexpr (kSwiglu) reduce_over_warps<kTiles>(up_acc, scratch, warp, lane);
  if (warp != 0) return;

    // Accumulator e of tile t: row lane / 4 + 8 (e / 2), column 8 t + 2 (lane % 4) + e % 2.
#pragma unroll
  for (int t = 0; t < kTiles; ++t) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int64_t row = row0 + lane / 4 + 8 * (e / 2);
      const int64_t column = 8 * t + 2 * (lane % 4) + e % 2;
      if (row >= p.out_features || column >= columns) continue;
      float value = acc[t][e];
      const int64_t index = (column0 + column) * p.y_stride + row;
      if constexpr (kSwiglu) {
        value = value / (1.0f + expf(-value)) * up_acc[t][e];
      } else {
        if (p.bias != nullptr) value += p.bias[row];
        if (p.residual != nullptr) value += p.residual[index];
      }
      p.y[index] = value;
    }
  }
}

template <typename Traits, bool kSwiglu>
Status launch_tiles(const QuantGemvColumnsParams& p, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((p.out_features + kRows - 1) / kRows);
  for (int64_t column0 = 0; column0 < p.columns; column0 += kMaxColumns) {
    const int64_t columns = p.columns - column0 < kMaxColumns ? p.columns - column0 : kMaxColumns;
    cudaError_t launched;
    if (columns <= 8) {
      launched =
          launch(quant_mma_columns_kernel<Traits, 1, kSwiglu>, blocks, 32 * kWarps, 0, stream, p, column0);
    } else if (columns <= 16) {
      launched =
          launch(quant_mma_columns_kernel<Traits, 2, kSwiglu>, blocks, 32 * kWarps, 0, stream, p, column0);
    } else if (columns <= 32) {
      launched =
          launch(quant_mma_columns_kernel<Traits, 4, kSwiglu>, blocks, 32 * kWarps, 0, stream, p, column0);
    } else {
      launched =
          launch(quant_mma_columns_kernel<Traits, 8, kSwiglu>, blocks, 32 * kWarps, 0, stream, p, column0);
    }
    LW_CUDA_TRY(launched);
  }
  return Status::ok();
}

}  // namespace

bool quant_mma_columns_supports(gguf::TensorType type, int64_t in_features) {
  if (in_features <= 0 || in_features % kStep != 0) return false;  // kStep = 128
  return static_cast<bool>(visit_weight_type(type, [](auto) { return Status::ok(); }));
}

Status quant_mma_columns(const QuantGemvColumnsParams& params, cudaStream_t stream) {
  QuantGemvColumnsParams p = params;
  if (p.x_stride == 0) p.x_stride = p.in_features;
  if (p.y_stride == 0) p.y_stride = p.out_features;
  if (p.y == nullptr || p.x == nullptr || p.weight == nullptr || p.columns <= 0 || p.out_features <= 0 ||
      p.x_stride < p.in_features || p.y_stride < p.out_features) {
    return make_error(ErrorCode::kInvalidArgument, "quant_mma_columns: null pointer or bad shape");
  }
  if (!quant_mma_columns_supports(p.weight_type, p.in_features)) {
    return make_error(ErrorCode::kUnsupported,
                      "quant_mma_columns: " + std::string(gguf::tensor_type_name(p.weight_type)) +
                          " matrix of width " + std::to_string(p.in_features) +
                          " (the width must be a multiple of 128)");
  }
  if (p.x_stride % 4 != 0 || reinterpret_cast<uintptr_t>(p.x) % 16 != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "quant_mma_columns: x must be 16-byte aligned with a stride multiple of 4");
  }
  if (p.up_weight != nullptr && (p.bias != nullptr || p.residual != nullptr)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "quant_mma_columns: the SwiGLU form takes no bias or residual");
  }
  if ((p.out_features + kRows - 1) / kRows > 2147483647) {
    return make_error(ErrorCode::kInvalidArgument, "quant_mma_columns: too many rows");
  }
  LW_TRY(check_weight_rows(p.weight_type, p.in_features, p.weight_row_bytes, "quant_mma_columns"));
  return visit_weight_type(p.weight_type, [&](auto traits) -> Status {
    using Traits = decltype(traits);
    if (p.up_weight != nullptr) return launch_tiles<Traits, true>(p, stream);
    return launch_tiles<Traits, false>(p, stream);
  });
}

}  // namespace llama_worker::kernels::cuda
