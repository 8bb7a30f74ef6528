// SwiGLU, CPU reference: out[r][i] = silu(gate[r][i]) * up[r][i], silu(g) = g / (1 + exp(-g)).
//
// The gated activation of the Llama feed-forward block. Row strides let the same op read the
// fused gate/up projection of Phi-3 (ffn_up produces (rows, 2 * width): gate in the first half,
// up in the second, as llama.cpp's swiglu and transformers' Phi3MLP split it) without a copy.
#pragma once

#include <cstdint>

namespace llama_worker::kernels::cpu {

struct SwigluParams {
  float* out = nullptr;         // (rows, width), row stride = width
  const float* gate = nullptr;  // (rows, width) with row stride gate_row_stride
  const float* up = nullptr;    // (rows, width) with row stride up_row_stride
  int64_t rows = 0;             // tokens
  int64_t width = 0;            // feed-forward width (n_ff)
  int64_t gate_row_stride = 0;  // elements between rows of gate (width, or 2 * width when fused)
  int64_t up_row_stride = 0;    // elements between rows of up
};

void swiglu_f32(const SwigluParams& params);

}  // namespace llama_worker::kernels::cpu
