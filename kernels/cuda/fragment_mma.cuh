// The batched step's products from weights repacked once into fp16 mma fragments.
//
// Repacking: every matrix of the batched step is decoded once (quant_blocks.cuh's exact decoders,
// each value rounded to fp16 with round-to-nearest — the values quant_mma_columns puts into its
// shared-memory tiles) into the order in which mma.sync m16n8k16 takes its A operand: for row
// tile R (16 rows) and input tile K (16 inputs), the 32 lanes' fragments lie side by side, 8
// halves (16 bytes) per lane, so a warp reads one tile as 512 contiguous bytes with one 16-byte
// load per lane and no decoding. Lane L = 4 g + t holds, in this order, the pairs (row g, inputs
// 2t, 2t+1), (row g+8, 2t, 2t+1), (row g, 2t+8, 2t+9), (row g+8, 2t+8, 2t+9) of the tile. Rows
// past the matrix's end are zeros (the row count is padded to 16). fragment_weights_to_rows undoes
// the order on the host, for the test that compares the copy with the CPU reference decoder.
//
// Activations: the columns' fp32 inputs are rounded to fp16 once per product input
// (pack_fragment_activations) into the order of the B operand: for input tile K and pair Q of
// 8-column tiles, 32 lanes x 16 bytes — lane 4 g + t holds column 16 Q + g's inputs 2t, 2t+1,
// 2t+8, 2t+9, then column 16 Q + 8 + g's — so a warp reads two column tiles with one 16-byte load
// per lane; columns past the count are zeros.
//
// Product: y = x W^T (+ bias) (+ residual), or the SwiGLU form silu(W x) * (U x), for any number
// of activation columns (packed fp16 x, fp32 accumulation). A warp owns one row
// tile and one of `k_split` interleaved slices of the input tiles (tiles s, s + k_split, ...); it
// runs the mma for its tiles in increasing order, and the k_split warps' sums of a row tile are
// added in slice order at the end. k_split comes from the matrix's shape alone
// (fragment_mma_k_split), never from the number of columns, and a column's accumulator never sees
// another column's values, so every column's bits are the same whatever the columns of the call:
// the column-count invariance the batched step needs. Columns run in tiles of up to 64 per launch.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "core/status.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::kernels::cuda {

// How a fragment copy holds its values (layouts in fragment_forms.cuh). kHalf takes any decodable
// type, 2 bytes per weight. The coded forms keep the file's quantized values and scales, moved
// into fragment order (Q4_K 4.625 bits per weight, Q6_K 8.56, Q8_0 / Q5_0 / Q4_0 in kQ8 8.5), and
// are decoded in registers in
// fp16 arithmetic (within about one fp16 rounding of the kHalf values). Either way a column's
// bits do not depend on the other columns of the call.
enum class FragmentForm : uint8_t { kHalf, kQ4K, kQ6K, kQ8 };

// The coded form for a type (kHalf where there is none).
FragmentForm fragment_form_for(gguf::TensorType type);
const char* fragment_form_name(FragmentForm form);

// Bytes of the copy of an (out_features, in_features) matrix (rows rounded up to 16); the copy of
// rows [row, out) starts `fragment_row_offset_bytes(form, row, in)` bytes in (row a multiple of 16).
int64_t fragment_weight_bytes(FragmentForm form, int64_t out_features, int64_t in_features);
int64_t fragment_row_offset_bytes(FragmentForm form, int64_t row, int64_t in_features);

// Whether `form` can hold a matrix of this type and width (kHalf: a decodable type, width a
// multiple of 16; kQ4K / kQ6K: that type, whole super-blocks; kQ8: Q8_0, Q5_0 or Q4_0).
bool fragment_form_supports(FragmentForm form, gguf::TensorType type, int64_t in_features);

// Repacks `weight` (out_features rows of row_bytes, device memory) into `fragments`
// (fragment_weight_bytes bytes, 16-byte aligned, device memory).
Status repack_to_fragments(void* fragments, FragmentForm form, const uint8_t* weight, gguf::TensorType type,
                           int64_t row_bytes, int64_t out_features, int64_t in_features, cudaStream_t stream);

// Host inverse of a coded copy (kQ4K / kQ6K / kQ8): the fp32 value of every weight, (out_features rounded
// up to 16) x in_features row-major, by the reference decoder's formula from the copy's codes and
// scales (the layout is lossless: these are quant::dequantize_row's values bit for bit).
std::vector<float> coded_fragments_to_rows(const std::vector<uint8_t>& fragments, FragmentForm form,
                                           int64_t padded_out_features, int64_t in_features);

// Host-side inverse of the fragment order: (out_features, in_features) row-major halves.
std::vector<__half> fragment_weights_to_rows(const std::vector<__half>& fragments, int64_t out_features,
                                             int64_t in_features);

// Warps per row tile, each over its slice of the input steps: 1, 2, 4 or 8, from the shape and
// form only.
int fragment_mma_k_split(int64_t out_features, int64_t in_features, FragmentForm form = FragmentForm::kHalf);

// Halves of the packed activations of `columns` columns of `in_features` (columns rounded up to 16).
int64_t fragment_activation_halves(int64_t columns, int64_t in_features);

// Where activation (column, input) of a call of `columns` columns lies in the packed buffer, in
// halves: the order pack_fragment_activations writes, for producers that write it themselves
// (rmsnorm_f32's packed output, the SwiGLU form's y_packed). They write the `columns` columns
// only; the padding columns up to a multiple of 16 keep what they held, which reaches only the
// padding columns of the product's result (each result column reads its own activation column).
__host__ __device__ inline int64_t fragment_activation_index(int64_t column, int64_t input, int64_t columns) {
  const int64_t pairs = (columns + 15) / 16;
  const int g = static_cast<int>(column % 8), half = static_cast<int>((column % 16) / 8);
  const int k = static_cast<int>(input % 16);
  const int lane = g * 4 + (k % 8) / 2;
  return (((input / 16) * pairs + column / 16) * 32 + lane) * 8 + (half * 2 + k / 8) * 2 + k % 2;
}

// x: (columns, in_features) fp32, row stride x_stride (0: in_features), 8-byte aligned with an even
// stride; packed: fragment_activation_halves halves, 16-byte aligned.
Status pack_fragment_activations(__half* packed, const float* x, int64_t x_stride, int64_t columns,
                                 int64_t in_features, cudaStream_t stream);

struct FragmentMmaParams {
  float* y = nullptr;  // (columns, out_features), row stride y_stride (0: out_features)
  int64_t y_stride = 0;
  const __half* x = nullptr;        // pack_fragment_activations of the `columns` columns
  const void* weight = nullptr;     // fragment copy (repack_to_fragments), 16-byte aligned
  const void* up_weight = nullptr;  // SwiGLU form: y = silu(W x) * (U x), U of W's shape and form
  FragmentForm form = FragmentForm::kHalf;
  const float* bias = nullptr;  // (out_features) or null; not with up_weight
  const float* residual =
      nullptr;  // (columns, out_features) stride y_stride, may alias y; not with up_weight
  // SwiGLU form only: the result written packed (fragment_activation_index, `columns` columns of
  // out_features inputs: the next product's input) instead of into y.
  __half* y_packed = nullptr;
  int64_t in_features = 0, out_features = 0;
  int64_t columns = 0;  // >= 1, any number
};

Status fragment_mma(const FragmentMmaParams& params, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
