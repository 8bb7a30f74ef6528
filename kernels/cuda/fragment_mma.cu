#include <cuda_fp16.h>

#include <string>

#include "cuda/cuda_check.hpp"
#include "cuda/fragment_mma.cuh"
#include "cuda/launch.cuh"
#include "cuda/quant_dispatch.cuh"

namespace llama_worker::kernels::cuda {
namespace {

constexpr int kTileRows = 16;
constexpr int kTileInputs = 16;
constexpr int kWarps = 8;             // per block: 8 / k_split row tiles
constexpr int kMaxColumns = 64;       // per launch: 8 tiles of 8 columns
constexpr int kUnroll = 4;            // input tiles in flight per warp
constexpr int64_t kBusyWarps = 2048;  // k_split grows until this many warps run

__host__ __device__ __forceinline__ int64_t row_tiles(int64_t out_features) {
  return (out_features + kTileRows - 1) / kTileRows;
}
// Pairs of 8-column tiles in a packed activation buffer of `columns` columns.
__host__ __device__ __forceinline__ int64_t fragment_pairs(int64_t columns) { return (columns + 15) / 16; }

// Position of weight (row, input) in the fragment copy (the order in fragment_mma.cuh).
__host__ __device__ __forceinline__ int64_t fragment_index(int64_t row, int64_t input, int64_t input_tiles) {
  const int64_t tile = (row / kTileRows) * input_tiles + input / kTileInputs;
  const int r = static_cast<int>(row % kTileRows), k = static_cast<int>(input % kTileInputs);
  const int lane = (r % 8) * 4 + (k % 8) / 2;
  const int slot = ((k / 8) * 2 + r / 8) * 2 + k % 2;
  return (tile * 32 + lane) * 8 + slot;
}

// One thread per 8-input chunk of a (padded) row: exact decode, fp16 round to nearest.
template <typename Traits>
__global__ void repack_kernel(__half* fragments, const uint8_t* weight, int64_t row_bytes,
                              int64_t out_features, int64_t in_features, int64_t chunks) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= chunks) return;
  const int64_t chunks_per_row = in_features / kChunk;
  const int64_t row = index / chunks_per_row;
  const int64_t first = (index % chunks_per_row) * kChunk;
  float w[kChunk];
  if (row < out_features) {
    constexpr int kChunksPerBlock = Traits::kElements / kChunk;
    const int64_t chunk = first / kChunk;
    Traits::decode(weight + row * row_bytes + (chunk / kChunksPerBlock) * Traits::kBytes,
                   static_cast<int>(chunk % kChunksPerBlock) * kChunk, w);
  } else {
#pragma unroll
    for (int e = 0; e < kChunk; ++e) w[e] = 0.0f;
  }
  const int64_t input_tiles = in_features / kTileInputs;
#pragma unroll
  for (int e = 0; e < kChunk; e += 2) {
    *reinterpret_cast<__half2*>(fragments + fragment_index(row, first + e, input_tiles)) =
        __halves2half2(__float2half_rn(w[e]), __float2half_rn(w[e + 1]));
  }
}

__device__ __forceinline__ void mma_16816(float (&d)[4], const uint4& a, uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b0), "r"(b1));
}

// One thread per (input tile, column pair, lane): the B fragments of two 8-column tiles, 16
// bytes: (column 16 p + g: inputs 2t, 2t+1, 2t+8, 2t+9), then the same for column 16 p + 8 + g.
__global__ void pack_kernel(uint4* packed, const float* x, int64_t x_stride, int64_t columns,
                            int64_t input_tiles, int64_t pairs) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= input_tiles * pairs * 32) return;
  const int lane = static_cast<int>(index % 32);
  const int64_t pair = (index / 32) % pairs;
  const int64_t k = (index / 32 / pairs) * kTileInputs + 2 * (lane % 4);
  uint32_t words[4];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t column = 16 * pair + 8 * half + lane / 4;
    float2 low = make_float2(0.0f, 0.0f), high = low;
    if (column < columns) {
      low = *reinterpret_cast<const float2*>(x + column * x_stride + k);
      high = *reinterpret_cast<const float2*>(x + column * x_stride + k + 8);
    }
    const __half2 l = __floats2half2_rn(low.x, low.y), h = __floats2half2_rn(high.x, high.y);
    words[2 * half] = *reinterpret_cast<const uint32_t*>(&l);
    words[2 * half + 1] = *reinterpret_cast<const uint32_t*>(&h);
  }
  packed[index] = make_uint4(words[0], words[1], words[2], words[3]);
}

// Weights are read once per launch: keep them out of L1 (the activations live there).
__device__ __forceinline__ uint4 load_fragment(const uint4* address) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(address));
  return v;
}

// The k_split warps of a row tile add their sums in slice order into slice 0's registers.
template <int kSplit, int kTiles>
__device__ __forceinline__ void add_slices(float (&acc)[kTiles][4], float* scratch, int warp, int lane) {
  const int slice = warp % kSplit;
  if (slice > 0) {
#pragma unroll
    for (int t = 0; t < kTiles; ++t) {
#pragma unroll
      for (int e = 0; e < 4; ++e) scratch[((warp * kTiles + t) * 4 + e) * 32 + lane] = acc[t][e];
    }
  }
  __syncthreads();
  if (slice == 0) {
#pragma unroll
    for (int s = 1; s < kSplit; ++s) {
#pragma unroll
      for (int t = 0; t < kTiles; ++t) {
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[t][e] += scratch[(((warp + s) * kTiles + t) * 4 + e) * 32 + lane];
      }
    }
  }
  __syncthreads();
}

// kM: row tiles per warp, each read with the same activation fragments (fewer activation reads
// per weight byte at many columns); a row tile's arithmetic is the same for any kM.
template <int kTiles, bool kSwiglu, int kSplit, int kM>
__global__ void __launch_bounds__(32 * kWarps) fragment_mma_kernel(FragmentMmaParams p, int64_t column0) {
  static_assert(!kSwiglu || kM == 1, "the SwiGLU form already reads two matrices per activation");
  constexpr int kRowTilesPerBlock = kWarps / kSplit * kM;
  __shared__ float scratch[kSplit > 1 ? kWarps * kTiles * 4 * 32 : 1];
  pdl_launch_dependents();
  pdl_wait();
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int g = lane / 4, t = lane % 4;
  const int64_t input_tiles = p.in_features / kTileInputs;
  const int64_t first_tile = static_cast<int64_t>(blockIdx.x) * kRowTilesPerBlock + warp / kSplit * kM;
  const int64_t tiles = row_tiles(p.out_features);
  const bool active = first_tile < tiles;  // inactive warps still reach the barriers
  const int slice = warp % kSplit;
  const int64_t columns = min(static_cast<int64_t>(8 * kTiles), p.columns - column0);

  float acc[kM][kTiles][4];
  float up_acc[kSwiglu ? kTiles : 1][4];
#pragma unroll
  for (int m = 0; m < kM; ++m) {
#pragma unroll
    for (int n = 0; n < kTiles; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[m][n][e] = 0.0f;
    }
  }
#pragma unroll
  for (int n = 0; n < (kSwiglu ? kTiles : 1); ++n) {
#pragma unroll
    for (int e = 0; e < 4; ++e) up_acc[n][e] = 0.0f;
  }
  // The packed activations of input tile k and this launch's column pair q: x4[k * pairs + q].
  constexpr int kPairs = (kTiles + 1) / 2;
  const int64_t pairs = fragment_pairs(p.columns);
  const uint4* x4 = reinterpret_cast<const uint4*>(p.x) + column0 / 16 * 32 + lane;
  // Row tile m of this warp (a tile past the end reads the last one; its results are dropped).
  const uint4* weight[kM];
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    const int64_t tile = active ? min(first_tile + m, tiles - 1) : 0;
    weight[m] = reinterpret_cast<const uint4*>(p.weight) + tile * input_tiles * 32 + lane;
  }
  const uint4* up = kSwiglu ? reinterpret_cast<const uint4*>(p.up_weight) +
                                  (active ? first_tile : 0) * input_tiles * 32 + lane
                            : nullptr;
  if (active) {
    for (int64_t k0 = slice; k0 < input_tiles; k0 += kSplit * kUnroll) {
      uint4 a[kUnroll][kM], u[kUnroll];
#pragma unroll
      for (int i = 0; i < kUnroll; ++i) {
        const int64_t k = k0 + i * kSplit;
        if (k < input_tiles) {
#pragma unroll
          for (int m = 0; m < kM; ++m) a[i][m] = load_fragment(weight[m] + k * 32);
          if constexpr (kSwiglu) u[i] = load_fragment(up + k * 32);
        }
      }
#pragma unroll
      for (int i = 0; i < kUnroll; ++i) {
        const int64_t k = k0 + i * kSplit;
        if (k >= input_tiles) break;
#pragma unroll
        for (int q = 0; q < kPairs; ++q) {
          const uint4 b = x4[(k * pairs + q) * 32];
#pragma unroll
          for (int m = 0; m < kM; ++m) {
            mma_16816(acc[m][2 * q], a[i][m], b.x, b.y);
            if constexpr (kTiles > 1) mma_16816(acc[m][2 * q + 1], a[i][m], b.z, b.w);
          }
          if constexpr (kSwiglu) {
            mma_16816(up_acc[2 * q], u[i], b.x, b.y);
            if constexpr (kTiles > 1) mma_16816(up_acc[2 * q + 1], u[i], b.z, b.w);
          }
        }
      }
    }
  }
  if constexpr (kSplit > 1) {
#pragma unroll
    for (int m = 0; m < kM; ++m) add_slices<kSplit, kTiles>(acc[m], scratch, warp, lane);
    if constexpr (kSwiglu) add_slices<kSplit, kTiles>(up_acc, scratch, warp, lane);
  }
  if (!active || slice != 0) return;

    // Accumulator e of tile n: row g + 8 (e / 2), column 8 n + 2 t + e % 2.
#pragma unroll
  for (int m = 0; m < kM; ++m) {
#pragma unroll
    for (int n = 0; n < kTiles; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t row = (first_tile + m) * kTileRows + g + 8 * (e / 2);
        const int64_t column = 8 * n + 2 * t + e % 2;
        if (row >= p.out_features || column >= columns) continue;
        float value = acc[m][n][e];
        const int64_t index = (column0 + column) * p.y_stride + row;
        if constexpr (kSwiglu) {
          value = value / (1.0f + expf(-value)) * up_acc[n][e];
          if (p.y_packed != nullptr) {
            p.y_packed[fragment_activation_index(column0 + column, row, p.columns)] = __float2half_rn(value);
            continue;
          }
        } else {
          if (p.bias != nullptr) value += p.bias[row];
          if (p.residual != nullptr) value += p.residual[index];
        }
        p.y[index] = value;
      }
    }
  }
}

// Two row tiles per warp from 32 columns on (plain forms only; registers allow it there).
template <int kTiles, bool kSwiglu>
constexpr int kRowTilesPerWarp = (!kSwiglu && kTiles >= 4) ? 2 : 1;

template <int kTiles, bool kSwiglu>
cudaError_t launch_split(const FragmentMmaParams& p, int64_t column0, int split, cudaStream_t stream) {
  constexpr int kM = kRowTilesPerWarp<kTiles, kSwiglu>;
  const int64_t tiles = row_tiles(p.out_features);
  const auto blocks = [&](int per_block) {
    return static_cast<unsigned>((tiles + per_block * kM - 1) / (per_block * kM));
  };
  switch (split) {
    case 1:
      return launch(fragment_mma_kernel<kTiles, kSwiglu, 1, kM>, blocks(8), 32 * kWarps, 0, stream, p,
                    column0);
    case 2:
      return launch(fragment_mma_kernel<kTiles, kSwiglu, 2, kM>, blocks(4), 32 * kWarps, 0, stream, p,
                    column0);
    case 4:
      return launch(fragment_mma_kernel<kTiles, kSwiglu, 4, kM>, blocks(2), 32 * kWarps, 0, stream, p,
                    column0);
    default:
      return launch(fragment_mma_kernel<kTiles, kSwiglu, 8, kM>, blocks(1), 32 * kWarps, 0, stream, p,
                    column0);
  }
}

template <bool kSwiglu>
Status launch_columns(const FragmentMmaParams& p, cudaStream_t stream) {
  const int split = fragment_mma_k_split(p.out_features, p.in_features);
  for (int64_t column0 = 0; column0 < p.columns; column0 += kMaxColumns) {
    const int64_t columns = p.columns - column0 < kMaxColumns ? p.columns - column0 : kMaxColumns;
    cudaError_t launched;
    if (columns <= 8) {
      launched = launch_split<1, kSwiglu>(p, column0, split, stream);
    } else if (columns <= 16) {
      launched = launch_split<2, kSwiglu>(p, column0, split, stream);
    } else if (columns <= 32) {
      launched = launch_split<4, kSwiglu>(p, column0, split, stream);
    } else {
      launched = launch_split<8, kSwiglu>(p, column0, split, stream);
    }
    LW_CUDA_TRY(launched);
  }
  return Status::ok();
}

}  // namespace

int64_t fragment_weight_halves(int64_t out_features, int64_t in_features) {
  return row_tiles(out_features) * kTileRows * in_features;
}

bool fragment_weights_support(gguf::TensorType type, int64_t in_features) {
  if (in_features <= 0 || in_features % kTileInputs != 0) return false;
  return static_cast<bool>(visit_weight_type(type, [](auto) { return Status::ok(); }));
}

int fragment_mma_k_split(int64_t out_features, int64_t in_features) {
  const int64_t tiles = row_tiles(out_features), input_tiles = in_features / kTileInputs;
  int split = 1;
  while (split < kWarps && tiles * split < kBusyWarps && input_tiles / (2 * split) >= kUnroll) split *= 2;
  return split;
}

Status repack_to_fragments(__half* fragments, const uint8_t* weight, gguf::TensorType type, int64_t row_bytes,
                           int64_t out_features, int64_t in_features, cudaStream_t stream) {
  if (fragments == nullptr || weight == nullptr || out_features <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "repack_to_fragments: null pointer or no rows");
  }
  if (!fragment_weights_support(type, in_features)) {
    return make_error(ErrorCode::kUnsupported,
                      "repack_to_fragments: " + std::string(gguf::tensor_type_name(type)) +
                          " matrix of width " + std::to_string(in_features) +
                          " (the width must be a multiple of 16)");
  }
  LW_TRY(check_weight_rows(type, in_features, row_bytes, "repack_to_fragments"));
  const int64_t chunks = row_tiles(out_features) * kTileRows * (in_features / kChunk);
  constexpr int kThreads = 256;
  if ((chunks + kThreads - 1) / kThreads > 2147483647) {
    return make_error(ErrorCode::kInvalidArgument, "repack_to_fragments: matrix too large");
  }
  return visit_weight_type(type, [&](auto traits) -> Status {
    using Traits = decltype(traits);
    repack_kernel<Traits><<<static_cast<unsigned>((chunks + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
        fragments, weight, row_bytes, out_features, in_features, chunks);
    LW_CUDA_TRY_LAUNCH();
    return Status::ok();
  });
}

std::vector<__half> fragment_weights_to_rows(const std::vector<__half>& fragments, int64_t out_features,
                                             int64_t in_features) {
  std::vector<__half> rows(static_cast<size_t>(out_features * in_features));
  const int64_t input_tiles = in_features / kTileInputs;
  for (int64_t r = 0; r < out_features; ++r) {
    for (int64_t k = 0; k < in_features; ++k)
      rows[static_cast<size_t>(r * in_features + k)] =
          fragments[static_cast<size_t>(fragment_index(r, k, input_tiles))];
  }
  return rows;
}

int64_t fragment_activation_halves(int64_t columns, int64_t in_features) {
  return fragment_pairs(columns) * 16 * in_features;
}

Status pack_fragment_activations(__half* packed, const float* x, int64_t x_stride, int64_t columns,
                                 int64_t in_features, cudaStream_t stream) {
  if (x_stride == 0) x_stride = in_features;
  if (packed == nullptr || x == nullptr || columns <= 0 || in_features <= 0 ||
      in_features % kTileInputs != 0 || x_stride < in_features) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "pack_fragment_activations: null pointer or bad shape (the width must be a multiple of 16)");
  }
  if (x_stride % 2 != 0 || reinterpret_cast<uintptr_t>(x) % 8 != 0 ||
      reinterpret_cast<uintptr_t>(packed) % 16 != 0) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "pack_fragment_activations: x must be 8-byte aligned with an even stride, the buffer 16-byte "
        "aligned");
  }
  const int64_t threads = in_features / kTileInputs * fragment_pairs(columns) * 32;
  constexpr int kThreads = 256;
  if ((threads + kThreads - 1) / kThreads > 2147483647) {
    return make_error(ErrorCode::kInvalidArgument, "pack_fragment_activations: too many activations");
  }
  pack_kernel<<<static_cast<unsigned>((threads + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      reinterpret_cast<uint4*>(packed), x, x_stride, columns, in_features / kTileInputs,
      fragment_pairs(columns));
  LW_CUDA_TRY_LAUNCH();
  return Status::ok();
}

Status fragment_mma(const FragmentMmaParams& params, cudaStream_t stream) {
  FragmentMmaParams p = params;
  if (p.y_stride == 0) p.y_stride = p.out_features;
  if (p.y == nullptr || p.x == nullptr || p.weight == nullptr || p.columns <= 0 || p.out_features <= 0 ||
      p.in_features <= 0 || p.in_features % kTileInputs != 0 || p.y_stride < p.out_features) {
    return make_error(ErrorCode::kInvalidArgument,
                      "fragment_mma: null pointer or bad shape (the width must be a multiple of 16)");
  }
  if (reinterpret_cast<uintptr_t>(p.x) % 16 != 0 || reinterpret_cast<uintptr_t>(p.weight) % 16 != 0 ||
      (p.up_weight != nullptr && reinterpret_cast<uintptr_t>(p.up_weight) % 16 != 0)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "fragment_mma: the packed activations and the weights must be 16-byte aligned");
  }
  if (p.up_weight != nullptr && (p.bias != nullptr || p.residual != nullptr)) {
    return make_error(ErrorCode::kInvalidArgument, "fragment_mma: the SwiGLU form takes no bias or residual");
  }
  if (p.y_packed != nullptr && (p.up_weight == nullptr || p.out_features % 16 != 0)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "fragment_mma: a packed result is for the SwiGLU form with a multiple of 16 outputs");
  }
  if (row_tiles(p.out_features) > 2147483647) {
    return make_error(ErrorCode::kInvalidArgument, "fragment_mma: too many rows");
  }
  if (p.up_weight != nullptr) return launch_columns<true>(p, stream);
  return launch_columns<false>(p, stream);
}

}  // namespace llama_worker::kernels::cuda
