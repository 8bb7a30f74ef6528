#include <cuda_fp16.h>

#include <functional>
#include <string>

#include "cuda/cuda_check.hpp"
#include "cuda/fragment_forms.cuh"
#include "cuda/fragment_mma.cuh"
#include "cuda/launch.cuh"
#include "cuda/quant_dispatch.cuh"

namespace llama_worker::kernels::cuda {
namespace {

using fragment_forms::kTileInputs;
using fragment_forms::kTileRows;
constexpr int kWarps = 8;             // per block: 8 / k_split row tiles
constexpr int kMaxColumns = 64;       // per launch: 8 tiles of 8 columns
constexpr int kUnroll = 4;            // steps in flight per warp
constexpr int64_t kBusyWarps = 2048;  // k_split grows until this many warps run

__host__ __device__ __forceinline__ int64_t row_tiles(int64_t out_features) {
  return (out_features + kTileRows - 1) / kTileRows;
}
// Pairs of 8-column tiles in a packed activation buffer of `columns` columns.
__host__ __device__ __forceinline__ int64_t fragment_pairs(int64_t columns) { return (columns + 15) / 16; }

__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
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
// per weight byte at many columns); a row tile's arithmetic is the same for any kM. Form: the
// copy's layout (fragment_forms.cuh); a warp's slice is the steps slice, slice + kSplit, ...,
// each step's input tiles in increasing order.
template <typename Form, int kTiles, bool kSwiglu, int kSplit, int kM>
__global__ void __launch_bounds__(32 * kWarps) fragment_mma_kernel(FragmentMmaParams p, int64_t column0) {
  static_assert(!kSwiglu || kM == 1, "the SwiGLU form already reads two matrices per activation");
  constexpr int kRowTilesPerBlock = kWarps / kSplit * kM;
  __shared__ float scratch[kSplit > 1 ? kWarps * kTiles * 4 * 32 : 1];
  pdl_launch_dependents();
  pdl_wait();
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int g = lane / 4, t = lane % 4;
  const int64_t steps = p.in_features / Form::kStepInputs;
  const int64_t tile_bytes = fragment_forms::tile_bytes<Form>(p.in_features);
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
  const uint8_t* weight[kM];
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    const int64_t tile = active ? min(first_tile + m, tiles - 1) : 0;
    weight[m] = static_cast<const uint8_t*>(p.weight) + tile * tile_bytes;
  }
  const uint8_t* up =
      kSwiglu ? static_cast<const uint8_t*>(p.up_weight) + (active ? first_tile : 0) * tile_bytes : nullptr;
  const int64_t records = steps * fragment_forms::kStepBytes;
  if (active) {
    for (int64_t s0 = slice; s0 < steps; s0 += kSplit * kUnroll) {
      typename Form::Load a[kUnroll][kM], u[kUnroll];
#pragma unroll
      for (int i = 0; i < kUnroll; ++i) {
        const int64_t s = s0 + i * kSplit;
        if (s < steps) {
#pragma unroll
          for (int m = 0; m < kM; ++m) {
            a[i][m].codes = load_fragment(reinterpret_cast<const uint4*>(weight[m]) + s * 32 + lane);
            Form::load_records(weight[m] + records, steps, s, g, a[i][m]);
          }
          if constexpr (kSwiglu) {
            u[i].codes = load_fragment(reinterpret_cast<const uint4*>(up) + s * 32 + lane);
            Form::load_records(up + records, steps, s, g, u[i]);
          }
        }
      }
#pragma unroll
      for (int i = 0; i < kUnroll; ++i) {
        const int64_t s = s0 + i * kSplit;
        if (s >= steps) break;
#pragma unroll
        for (int j = 0; j < Form::kTilesPerStep; ++j) {
          const int64_t k = s * Form::kTilesPerStep + j;
          uint32_t w[kM][4], wu[4];
#pragma unroll
          for (int m = 0; m < kM; ++m) Form::fragment(a[i][m], j, w[m]);
          if constexpr (kSwiglu) Form::fragment(u[i], j, wu);
#pragma unroll
          for (int q = 0; q < kPairs; ++q) {
            uint4 b;
            if constexpr (kTiles == 1) {  // one 8-column tile: the pair's first half only
              const uint2 b2 = *reinterpret_cast<const uint2*>(x4 + (k * pairs + q) * 32);
              b = make_uint4(b2.x, b2.y, 0, 0);
            } else {
              b = x4[(k * pairs + q) * 32];
            }
#pragma unroll
            for (int m = 0; m < kM; ++m) {
              mma_16816(acc[m][2 * q], w[m], b.x, b.y);
              if constexpr (kTiles > 1) mma_16816(acc[m][2 * q + 1], w[m], b.z, b.w);
            }
            if constexpr (kSwiglu) {
              mma_16816(up_acc[2 * q], wu, b.x, b.y);
              if constexpr (kTiles > 1) mma_16816(up_acc[2 * q + 1], wu, b.z, b.w);
            }
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

template <typename Form, int kTiles, bool kSwiglu>
cudaError_t launch_split(const FragmentMmaParams& p, int64_t column0, int split, cudaStream_t stream) {
  constexpr int kM = kRowTilesPerWarp<kTiles, kSwiglu>;
  const int64_t tiles = row_tiles(p.out_features);
  const auto blocks = [&](int per_block) {
    return static_cast<unsigned>((tiles + per_block * kM - 1) / (per_block * kM));
  };
  switch (split) {
    case 1:
      return launch(fragment_mma_kernel<Form, kTiles, kSwiglu, 1, kM>, blocks(8), 32 * kWarps, 0, stream, p,
                    column0);
    case 2:
      return launch(fragment_mma_kernel<Form, kTiles, kSwiglu, 2, kM>, blocks(4), 32 * kWarps, 0, stream, p,
                    column0);
    case 4:
      return launch(fragment_mma_kernel<Form, kTiles, kSwiglu, 4, kM>, blocks(2), 32 * kWarps, 0, stream, p,
                    column0);
    default:
      return launch(fragment_mma_kernel<Form, kTiles, kSwiglu, 8, kM>, blocks(1), 32 * kWarps, 0, stream, p,
                    column0);
  }
}

template <typename Form, bool kSwiglu>
Status launch_columns(const FragmentMmaParams& p, cudaStream_t stream) {
  const int split = fragment_mma_k_split(p.out_features, p.in_features, Form::kForm);
  for (int64_t column0 = 0; column0 < p.columns; column0 += kMaxColumns) {
    const int64_t columns = p.columns - column0 < kMaxColumns ? p.columns - column0 : kMaxColumns;
    cudaError_t launched;
    if (columns <= 8) {
      launched = launch_split<Form, 1, kSwiglu>(p, column0, split, stream);
    } else if (columns <= 16) {
      launched = launch_split<Form, 2, kSwiglu>(p, column0, split, stream);
    } else if (columns <= 32) {
      launched = launch_split<Form, 4, kSwiglu>(p, column0, split, stream);
    } else {
      launched = launch_split<Form, 8, kSwiglu>(p, column0, split, stream);
    }
    LW_CUDA_TRY(launched);
  }
  return Status::ok();
}

template <typename Form>
Status launch_form(const FragmentMmaParams& p, cudaStream_t stream) {
  if (p.up_weight != nullptr) return launch_columns<Form, true>(p, stream);
  return launch_columns<Form, false>(p, stream);
}

int step_inputs(FragmentForm form) {
  switch (form) {
    case FragmentForm::kQ4K:
      return fragment_forms::Q4KForm::kStepInputs;
    case FragmentForm::kQ6K:
      return fragment_forms::Q6KForm::kStepInputs;
    case FragmentForm::kQ8:
      return fragment_forms::ByteForm::kStepInputs;
    default:
      return fragment_forms::HalfForm::kStepInputs;
  }
}

}  // namespace

int fragment_mma_k_split(int64_t out_features, int64_t in_features, FragmentForm form) {
  const int64_t tiles = row_tiles(out_features), steps = in_features / step_inputs(form);
  int split = 1;
  while (split < kWarps && tiles * split < kBusyWarps && steps / (2 * split) >= kUnroll) split *= 2;
  return split;
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
  if (p.y_packed != nullptr) {
    // Every block reads every packed input while it writes its rows of y_packed: sharing memory
    // would let a block overwrite inputs another still reads (a race, not a result).
    const auto* x_begin = reinterpret_cast<const char*>(p.x);
    const auto* x_end = x_begin + fragment_activation_halves(p.columns, p.in_features) * 2;
    const auto* y_begin = reinterpret_cast<const char*>(p.y_packed);
    const auto* y_end = y_begin + fragment_activation_halves(p.columns, p.out_features) * 2;
    if (std::less<const char*>{}(x_begin, y_end) && std::less<const char*>{}(y_begin, x_end)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "fragment_mma: the packed result overlaps the packed input (the SwiGLU form needs "
                        "its own output buffer)");
    }
  }
  if (row_tiles(p.out_features) > 2147483647) {
    return make_error(ErrorCode::kInvalidArgument, "fragment_mma: too many rows");
  }
  const int64_t whole = p.form == FragmentForm::kQ4K || p.form == FragmentForm::kQ6K
                            ? fragment_forms::kSuperInputs
                            : step_inputs(p.form);
  if (p.in_features % whole != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("fragment_mma: the ") + fragment_form_name(p.form) +
                          " form needs a width that is a multiple of " + std::to_string(whole));
  }
  switch (p.form) {
    case FragmentForm::kQ4K:
      return launch_form<fragment_forms::Q4KForm>(p, stream);
    case FragmentForm::kQ6K:
      return launch_form<fragment_forms::Q6KForm>(p, stream);
    case FragmentForm::kQ8:
      return launch_form<fragment_forms::ByteForm>(p, stream);
    default:
      return launch_form<fragment_forms::HalfForm>(p, stream);
  }
}

}  // namespace llama_worker::kernels::cuda
