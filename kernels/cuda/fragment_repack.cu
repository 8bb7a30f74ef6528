// Fragment copies (fragment_mma.cuh): sizes, the repack kernels of every form and their host
// inverses (the tests' way back to row order). Layouts: fragment_forms.cuh.
#include <cuda_fp16.h>

#include <string>

#include "cuda/cuda_check.hpp"
#include "cuda/fragment_forms.cuh"
#include "cuda/fragment_mma.cuh"
#include "cuda/quant_dispatch.cuh"

namespace llama_worker::kernels::cuda {
namespace {

namespace ff = fragment_forms;
using ff::kTileInputs;
using ff::kTileRows;

__host__ __device__ __forceinline__ int64_t row_tiles(int64_t out_features) {
  return (out_features + kTileRows - 1) / kTileRows;
}

// Row (in its tile) and input (in its 16-input tile) of A-fragment slot `slot` of lane `lane`.
__host__ __device__ __forceinline__ int slot_row(int lane, int slot) {
  return lane / 4 + 8 * ((slot / 2) % 2);
}
__host__ __device__ __forceinline__ int slot_input(int lane, int slot) {
  return 2 * (lane % 4) + slot % 2 + 8 * (slot / 4);
}

// Position of weight (row, input) in a kHalf copy.
__host__ __device__ __forceinline__ int64_t fragment_index(int64_t row, int64_t input, int64_t input_tiles) {
  const int64_t tile = (row / kTileRows) * input_tiles + input / kTileInputs;
  const int r = static_cast<int>(row % kTileRows), k = static_cast<int>(input % kTileInputs);
  const int lane = (r % 8) * 4 + (k % 8) / 2;
  const int slot = ((k / 8) * 2 + r / 8) * 2 + k % 2;
  return (tile * 32 + lane) * 8 + slot;
}

// kHalf: one thread per 8-input chunk of a (padded) row: exact decode, fp16 round to nearest.
template <typename Traits>
__global__ void repack_half_kernel(__half* fragments, const uint8_t* weight, int64_t row_bytes,
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

// Q4_K block: fp16 d, fp16 dmin, scales[12], qs[128] (quant_blocks.cuh).
__device__ __forceinline__ uint32_t q4k_nibble(const uint8_t* block, int e) {
  const uint8_t byte = block[16 + 32 * (e / 64) + e % 32];
  return (e % 64) >= 32 ? byte >> 4 : byte & 0xF;
}
// Q6_K block: ql[128], qh[64], int8 scales[16], fp16 d: the 6-bit q (0..63) of element e.
__device__ __forceinline__ uint32_t q6k_code(const uint8_t* block, int e) {
  const int n = e / 128, g = (e % 128) / 32, l = e % 32;
  const uint8_t low_byte = block[64 * n + l + 32 * (g & 1)];
  const uint32_t low = g >= 2 ? low_byte >> 4 : low_byte & 0xF;
  const uint32_t high = (block[128 + 32 * n + l] >> (2 * g)) & 3;
  return low | (high << 4);
}
__device__ __forceinline__ uint32_t q6k_scale_byte(const uint8_t* block, int e) {
  return block[192 + 8 * (e / 128) + (e % 32) / 16 + 2 * ((e % 128) / 32)];
}
__device__ __forceinline__ uint32_t load_u16(const uint8_t* p) { return p[0] | (p[1] << 8); }
// The legacy 32-element blocks (fp16 d first): q + 128 of element e, q = value / d.
template <gguf::TensorType kType>
__device__ __forceinline__ uint32_t byte_code(const uint8_t* block, int e) {
  if constexpr (kType == gguf::TensorType::kQ8_0) {
    return static_cast<uint32_t>(static_cast<int>(static_cast<int8_t>(block[2 + e])) + 128);
  } else {
    const uint8_t* qs = block + (kType == gguf::TensorType::kQ5_0 ? 6 : 2);
    const uint32_t low = e < 16 ? qs[e] & 0xF : qs[e - 16] >> 4;
    if constexpr (kType == gguf::TensorType::kQ5_0) {
      const uint32_t high = ((load_u16(block + 2) | (load_u16(block + 4) << 16)) >> e) & 1u;
      return (low | (high << 4)) - 16 + 128;
    } else {
      return low - 8 + 128;
    }
  }
}

// Coded forms: one thread per (row tile, step, lane): its 16 code bytes; lanes with t = 0 also
// write their g's scale record and, on a super-block's first step, its super record. Rows past
// the matrix's end get zero codes, scales and d.
template <typename Form, gguf::TensorType kType>
__global__ void repack_coded_kernel(uint8_t* fragments, const uint8_t* weight, int64_t row_bytes,
                                    int64_t out_features, int64_t in_features, int64_t threads) {
  using Traits = BlockTraits<kType>;
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= threads) return;
  const int lane = static_cast<int>(index % 32);
  const int64_t steps = in_features / Form::kStepInputs;
  const int64_t step = (index / 32) % steps, tile = index / 32 / steps;
  uint8_t* tile_base = fragments + tile * ff::tile_bytes<Form>(in_features);
  const auto block_of = [&](int64_t row, int64_t input) -> const uint8_t* {
    return row < out_features ? weight + row * row_bytes + input / Traits::kElements * Traits::kBytes
                              : nullptr;
  };
  uint32_t words[4] = {0, 0, 0, 0};
  for (int j = 0; j < Form::kTilesPerStep; ++j) {
    for (int slot = 0; slot < 8; ++slot) {
      const int64_t row = tile * kTileRows + slot_row(lane, slot);
      const int64_t input = step * Form::kStepInputs + j * kTileInputs + slot_input(lane, slot);
      const uint8_t* block = block_of(row, input);
      if (block == nullptr) continue;
      const int e = static_cast<int>(input % Traits::kElements);
      const int byte = 8 * j + slot;
      if constexpr (kType == gguf::TensorType::kQ4_K) {
        words[j] |= q4k_nibble(block, e) << (16 * (slot % 2) + 4 * (slot / 2));
      } else if constexpr (kType == gguf::TensorType::kQ6_K) {
        words[byte / 4] |= q6k_code(block, e) << (8 * (byte % 4));
      } else {
        words[byte / 4] |= byte_code<kType>(block, e) << (8 * (byte % 4));
      }
    }
  }
  reinterpret_cast<uint4*>(tile_base)[step * 32 + lane] = make_uint4(words[0], words[1], words[2], words[3]);
  if (lane % 4 != 0) return;
  const int g = lane / 4;
  uint8_t* records = tile_base + steps * ff::kStepBytes;
  const int64_t first_input = step * Form::kStepInputs;
  uint32_t scale_words[2] = {0, 0}, super_words[2] = {0, 0};
  for (int half = 0; half < 2; ++half) {
    const int64_t row = tile * kTileRows + g + 8 * half;
    const uint8_t* block = block_of(row, first_input);
    if (block == nullptr) continue;
    const int e = static_cast<int>(first_input % Traits::kElements);
    if constexpr (kType == gguf::TensorType::kQ4_K) {
      int scale = 0, min = 0;
      uint32_t word = 0;
      for (int sub = 0; sub < 2; ++sub) {
        k4_scale_min(e / 32 + sub, block + 4, scale, min);
        word |= (static_cast<uint32_t>(scale) | (static_cast<uint32_t>(min) << 8)) << (16 * sub);
      }
      scale_words[half] = word;
      super_words[half] = load_u16(block) | (load_u16(block + 2) << 16);
    } else if constexpr (kType == gguf::TensorType::kQ6_K) {
      scale_words[0] |= q6k_scale_byte(block, e) << (8 * half);
      scale_words[0] |= q6k_scale_byte(block, e + kTileInputs) << (8 * (2 + half));
      super_words[0] |= load_u16(block + 208) << (16 * half);
    } else {
      scale_words[0] |= load_u16(block) << (16 * half);
    }
  }
  uint8_t* scale_record = records + step * Form::kScaleBytes;
  if constexpr (kType == gguf::TensorType::kQ4_K) {
    *reinterpret_cast<uint2*>(scale_record + 8 * g) = make_uint2(scale_words[0], scale_words[1]);
  } else {
    *reinterpret_cast<uint32_t*>(scale_record + 4 * g) = scale_words[0];
  }
  if constexpr (Form::kSuperBytes > 0) {
    if (first_input % ff::kSuperInputs != 0) return;
    uint8_t* supers =
        records + steps * Form::kScaleBytes + first_input / ff::kSuperInputs * Form::kSuperBytes;
    if constexpr (kType == gguf::TensorType::kQ4_K) {
      *reinterpret_cast<uint2*>(supers + 8 * g) = make_uint2(super_words[0], super_words[1]);
    } else {
      *reinterpret_cast<uint32_t*>(supers + 4 * g) = super_words[0];
    }
  }
}

template <typename Form>
int64_t form_tile_bytes(int64_t in_features) {
  return ff::tile_bytes<Form>(in_features);
}

int64_t tile_bytes_of(FragmentForm form, int64_t in_features) {
  switch (form) {
    case FragmentForm::kQ4K:
      return form_tile_bytes<ff::Q4KForm>(in_features);
    case FragmentForm::kQ6K:
      return form_tile_bytes<ff::Q6KForm>(in_features);
    case FragmentForm::kQ8:
      return form_tile_bytes<ff::ByteForm>(in_features);
    default:
      return form_tile_bytes<ff::HalfForm>(in_features);
  }
}

float host_half(uint32_t bits) { return __half2float(__ushort_as_half(static_cast<unsigned short>(bits))); }

}  // namespace

FragmentForm fragment_form_for(gguf::TensorType type) {
  switch (type) {
    case gguf::TensorType::kQ4_K:
      return FragmentForm::kQ4K;
    case gguf::TensorType::kQ6_K:
      return FragmentForm::kQ6K;
    case gguf::TensorType::kQ8_0:
    case gguf::TensorType::kQ5_0:
    case gguf::TensorType::kQ4_0:
      return FragmentForm::kQ8;
    default:
      return FragmentForm::kHalf;
  }
}

const char* fragment_form_name(FragmentForm form) {
  switch (form) {
    case FragmentForm::kQ4K:
      return "q4k";
    case FragmentForm::kQ6K:
      return "q6k";
    case FragmentForm::kQ8:
      return "q8";
    default:
      return "f16";
  }
}

bool fragment_form_supports(FragmentForm form, gguf::TensorType type, int64_t in_features) {
  if (in_features <= 0 || in_features % kTileInputs != 0) return false;
  switch (form) {
    case FragmentForm::kQ4K:
      return type == gguf::TensorType::kQ4_K && in_features % ff::kSuperInputs == 0;
    case FragmentForm::kQ6K:
      return type == gguf::TensorType::kQ6_K && in_features % ff::kSuperInputs == 0;
    case FragmentForm::kQ8:
      return (type == gguf::TensorType::kQ8_0 || type == gguf::TensorType::kQ5_0 ||
              type == gguf::TensorType::kQ4_0) &&
             in_features % ff::ByteForm::kStepInputs == 0;
    default:
      return static_cast<bool>(visit_weight_type(type, [](auto) { return Status::ok(); }));
  }
}

int64_t fragment_weight_bytes(FragmentForm form, int64_t out_features, int64_t in_features) {
  return row_tiles(out_features) * tile_bytes_of(form, in_features);
}

int64_t fragment_row_offset_bytes(FragmentForm form, int64_t row, int64_t in_features) {
  return row / kTileRows * tile_bytes_of(form, in_features);
}

Status repack_to_fragments(void* fragments, FragmentForm form, const uint8_t* weight, gguf::TensorType type,
                           int64_t row_bytes, int64_t out_features, int64_t in_features,
                           cudaStream_t stream) {
  if (fragments == nullptr || weight == nullptr || out_features <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "repack_to_fragments: null pointer or no rows");
  }
  if (reinterpret_cast<uintptr_t>(fragments) % 16 != 0) {
    return make_error(ErrorCode::kInvalidArgument, "repack_to_fragments: the copy must be 16-byte aligned");
  }
  if (!fragment_form_supports(form, type, in_features)) {
    return make_error(ErrorCode::kUnsupported,
                      "repack_to_fragments: the " + std::string(fragment_form_name(form)) +
                          " form cannot hold a " + std::string(gguf::tensor_type_name(type)) +
                          " matrix of width " + std::to_string(in_features));
  }
  LW_TRY(check_weight_rows(type, in_features, row_bytes, "repack_to_fragments"));
  constexpr int kThreads = 256;
  const auto grid = [&](int64_t threads) -> Result<unsigned> {
    if ((threads + kThreads - 1) / kThreads > 2147483647) {
      return make_error(ErrorCode::kInvalidArgument, "repack_to_fragments: matrix too large");
    }
    return static_cast<unsigned>((threads + kThreads - 1) / kThreads);
  };
  if (form != FragmentForm::kHalf) {
    const int64_t step_inputs = form == FragmentForm::kQ4K   ? ff::Q4KForm::kStepInputs
                                : form == FragmentForm::kQ6K ? ff::Q6KForm::kStepInputs
                                                             : ff::ByteForm::kStepInputs;
    const int64_t threads = row_tiles(out_features) * (in_features / step_inputs) * 32;
    LW_ASSIGN_OR_RETURN(const unsigned blocks, grid(threads));
    auto* out = static_cast<uint8_t*>(fragments);
    const auto run = [&](auto kernel) {
      kernel<<<blocks, kThreads, 0, stream>>>(out, weight, row_bytes, out_features, in_features, threads);
    };
    using gguf::TensorType;
    switch (type) {
      case TensorType::kQ4_K:
        run(repack_coded_kernel<ff::Q4KForm, TensorType::kQ4_K>);
        break;
      case TensorType::kQ6_K:
        run(repack_coded_kernel<ff::Q6KForm, TensorType::kQ6_K>);
        break;
      case TensorType::kQ8_0:
        run(repack_coded_kernel<ff::ByteForm, TensorType::kQ8_0>);
        break;
      case TensorType::kQ5_0:
        run(repack_coded_kernel<ff::ByteForm, TensorType::kQ5_0>);
        break;
      default:
        run(repack_coded_kernel<ff::ByteForm, TensorType::kQ4_0>);
        break;
    }
    LW_CUDA_TRY_LAUNCH();
    return Status::ok();
  }
  const int64_t chunks = row_tiles(out_features) * kTileRows * (in_features / kChunk);
  LW_ASSIGN_OR_RETURN(const unsigned blocks, grid(chunks));
  return visit_weight_type(type, [&](auto traits) -> Status {
    using Traits = decltype(traits);
    repack_half_kernel<Traits><<<blocks, kThreads, 0, stream>>>(static_cast<__half*>(fragments), weight,
                                                                row_bytes, out_features, in_features, chunks);
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

std::vector<float> coded_fragments_to_rows(const std::vector<uint8_t>& fragments, FragmentForm form,
                                           int64_t padded_out_features, int64_t in_features) {
  std::vector<float> rows(static_cast<size_t>(padded_out_features * in_features), 0.0f);
  if (form == FragmentForm::kHalf) return rows;
  const bool q4k = form == FragmentForm::kQ4K, q6k = form == FragmentForm::kQ6K;
  const int step_inputs = q4k   ? ff::Q4KForm::kStepInputs
                          : q6k ? ff::Q6KForm::kStepInputs
                                : ff::ByteForm::kStepInputs;
  const int scale_bytes = q4k   ? ff::Q4KForm::kScaleBytes
                          : q6k ? ff::Q6KForm::kScaleBytes
                                : ff::ByteForm::kScaleBytes;
  const int super_bytes = q4k   ? ff::Q4KForm::kSuperBytes
                          : q6k ? ff::Q6KForm::kSuperBytes
                                : ff::ByteForm::kSuperBytes;
  const int64_t steps = in_features / step_inputs, tile_bytes = tile_bytes_of(form, in_features);
  const auto byte_at = [&](int64_t offset) {
    return static_cast<uint32_t>(fragments[static_cast<size_t>(offset)]);
  };
  const auto u16_at = [&](int64_t offset) { return byte_at(offset) | (byte_at(offset + 1) << 8); };
  for (int64_t row = 0; row < padded_out_features; ++row) {
    const int64_t tile = row / kTileRows;
    const int r = static_cast<int>(row % kTileRows), g = r % 8, half = r / 8;
    for (int64_t input = 0; input < in_features; ++input) {
      const int64_t step = input / step_inputs;
      const int j = static_cast<int>((input % step_inputs) / kTileInputs),
                k = static_cast<int>(input % kTileInputs);
      const int lane = g * 4 + (k % 8) / 2, slot = ((k / 8) * 2 + half) * 2 + k % 2;
      const int64_t codes = tile * tile_bytes + (step * 32 + lane) * 16;
      const int64_t records = tile * tile_bytes + steps * ff::kStepBytes;
      const int64_t super = records + steps * scale_bytes + input / ff::kSuperInputs * super_bytes;
      float value = 0.0f;
      if (q4k) {
        const uint32_t word = byte_at(codes + 4 * j) | (byte_at(codes + 4 * j + 1) << 8) |
                              (byte_at(codes + 4 * j + 2) << 16) | (byte_at(codes + 4 * j + 3) << 24);
        const uint32_t q = (word >> (16 * (slot % 2) + 4 * (slot / 2))) & 0xF;
        const int64_t scale_record = records + step * scale_bytes + 8 * g + 4 * half + 2 * (j / 2);
        const float d = host_half(u16_at(super + 8 * g + 4 * half));
        const float dmin = host_half(u16_at(super + 8 * g + 4 * half + 2));
        const float s = d * static_cast<float>(byte_at(scale_record));
        const float m = dmin * static_cast<float>(byte_at(scale_record + 1));
        value = s * static_cast<float>(q) - m;  // d * scale and its product with q are exact in fp32
      } else if (!q6k) {                        // kQ8: q + 128 and the block's d; the reference's q * d
        const int q = static_cast<int>(byte_at(codes + 8 * j + slot)) - 128;
        const float d = host_half(u16_at(records + step * scale_bytes + 4 * g + 2 * half));
        value = static_cast<float>(q) * d;
      } else {
        const uint32_t q = byte_at(codes + 8 * j + slot);
        const auto scale = static_cast<int8_t>(byte_at(records + step * scale_bytes + 4 * g + 2 * j + half));
        const float d = host_half(u16_at(super + 4 * g + 2 * half));
        value = (d * static_cast<float>(scale)) * static_cast<float>(static_cast<int>(q) - 32);
      }
      rows[static_cast<size_t>(row * in_features + input)] = value;
    }
  }
  return rows;
}

}  // namespace llama_worker::kernels::cuda
