// SwiGLU on the device: out[r][i] = silu(gate[r][i]) * up[r][i]. Twin of kernels/cpu/swiglu.hpp;
// row strides read Phi-3's fused gate/up projection in place.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"

namespace llama_worker::kernels::cuda {

struct SwigluParams {
  float* out = nullptr;         // (rows, width), row stride out_row_stride; may be `gate` (in place)
  const float* gate = nullptr;  // (rows, width), row stride gate_row_stride
  const float* up = nullptr;    // (rows, width), row stride up_row_stride
  int64_t rows = 0;
  int64_t width = 0;
  int64_t gate_row_stride = 0;  // 0: width
  int64_t up_row_stride = 0;    // 0: width
  int64_t out_row_stride = 0;   // 0: width
};

Status swiglu_f32(const SwigluParams& params, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
