// Round-to-nearest quantizers for 256-element K-quant super-blocks, shared by the five K formats.
// They are not ggml's search-based reference quantizers (make_qkx2_quants and friends); they
// make valid blocks whose dequantization is close to the input, which is what synthetic models
// need. Deterministic: only +, -, *, / and std::round on float32, so the same input gives the
// same bytes on every IEEE machine (the library is compiled with -ffp-contract=off).
//
// Two families:
//   affine:    x ~= (d * scale_s) * q - (dmin * min_s), q in 0..kMaxCode, scale/min in 0..kMaxScale
//              (Q2_K, Q4_K, Q5_K)
//   symmetric: x ~= (d * scale_s) * q, q in -kNegativeCodes..kNegativeCodes-1,
//              scale in -kMaxScale..kMaxScale (Q3_K, Q6_K)
// Codes are derived from the fp16-rounded super-block scales and the integer sub-block scales
// exactly as a reader will reconstruct them.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "quant/block_io.hpp"

namespace llama_worker::quant {

inline constexpr int kSuperBlockElements = 256;

struct AffineSuperBlock {
  uint16_t d = 0;                                    // fp16 bits of the scale of scales
  uint16_t dmin = 0;                                 // fp16 bits of the scale of mins
  std::array<uint8_t, 16> scales{};                  // per sub-block, 0..kMaxScale
  std::array<uint8_t, 16> mins{};                    // per sub-block, 0..kMaxScale
  std::array<uint8_t, kSuperBlockElements> codes{};  // 0..kMaxCode
};

template <int kSubBlocks, int kMaxCode, int kMaxScale>
AffineSuperBlock quantize_affine(const float* in) {
  constexpr int kSubSize = kSuperBlockElements / kSubBlocks;
  std::array<float, kSubBlocks> sub_scale{}, sub_negative_min{};
  float max_scale = 0.0f, max_negative_min = 0.0f;
  for (int s = 0; s < kSubBlocks; ++s) {
    float low = 0.0f, high = in[s * kSubSize];
    for (int i = 0; i < kSubSize; ++i) {
      low = std::min(low, in[s * kSubSize + i]);
      high = std::max(high, in[s * kSubSize + i]);
    }
    sub_scale[s] = (high - low) / static_cast<float>(kMaxCode);
    sub_negative_min[s] = -low;
    max_scale = std::max(max_scale, sub_scale[s]);
    max_negative_min = std::max(max_negative_min, sub_negative_min[s]);
  }
  AffineSuperBlock block;
  block.d = f32_to_f16(max_scale / static_cast<float>(kMaxScale));
  block.dmin = f32_to_f16(max_negative_min / static_cast<float>(kMaxScale));
  const float d = f16_to_f32(block.d), dmin = f16_to_f32(block.dmin);
  for (int s = 0; s < kSubBlocks; ++s) {
    block.scales[s] = static_cast<uint8_t>(d > 0.0f ? round_clamp(sub_scale[s] / d, 0, kMaxScale) : 0);
    block.mins[s] =
        static_cast<uint8_t>(dmin > 0.0f ? round_clamp(sub_negative_min[s] / dmin, 0, kMaxScale) : 0);
    const float step = d * static_cast<float>(block.scales[s]);
    const float offset = dmin * static_cast<float>(block.mins[s]);
    for (int i = 0; i < kSubSize; ++i) {
      const int e = s * kSubSize + i;
      block.codes[e] =
          static_cast<uint8_t>(step > 0.0f ? round_clamp((in[e] + offset) / step, 0, kMaxCode) : 0);
    }
  }
  return block;
}

struct SymmetricSuperBlock {
  uint16_t d = 0;                                // fp16 bits of the scale of scales
  std::array<int, 16> scales{};                  // -kMaxScale..kMaxScale
  std::array<int, kSuperBlockElements> codes{};  // -kNegativeCodes..kNegativeCodes-1
};

template <int kNegativeCodes, int kMaxScale>
SymmetricSuperBlock quantize_symmetric(const float* in) {
  constexpr int kSubBlocks = 16, kSubSize = kSuperBlockElements / kSubBlocks;
  std::array<float, kSubBlocks> sub_scale{};
  float max_abs_scale = 0.0f;
  for (int s = 0; s < kSubBlocks; ++s) {
    float signed_max = 0.0f, abs_max = 0.0f;  // the value of largest magnitude maps to -kNegativeCodes
    for (int i = 0; i < kSubSize; ++i) {
      const float value = in[s * kSubSize + i];
      if (std::fabs(value) > abs_max) {
        abs_max = std::fabs(value);
        signed_max = value;
      }
    }
    sub_scale[s] = signed_max / static_cast<float>(-kNegativeCodes);
    max_abs_scale = std::max(max_abs_scale, std::fabs(sub_scale[s]));
  }
  SymmetricSuperBlock block;
  block.d = f32_to_f16(max_abs_scale / static_cast<float>(kMaxScale));
  const float d = f16_to_f32(block.d);
  for (int s = 0; s < kSubBlocks; ++s) {
    block.scales[s] = d > 0.0f ? round_clamp(sub_scale[s] / d, -kMaxScale, kMaxScale) : 0;
    const float step = d * static_cast<float>(block.scales[s]);
    for (int i = 0; i < kSubSize; ++i) {
      const int e = s * kSubSize + i;
      block.codes[e] = step != 0.0f ? round_clamp(in[e] / step, -kNegativeCodes, kNegativeCodes - 1) : 0;
    }
  }
  return block;
}

}  // namespace llama_worker::quant
