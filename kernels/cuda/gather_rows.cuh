// Row gather on the device: out[r] = in[rows[r]] for r < count, rows of `width` floats. The
// batched forward uses it to bring the last row of every entry that wants logits together before
// the final norm and the output product. A copy: no arithmetic, so no bits change.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"

namespace llama_worker::kernels::cuda {

struct GatherRowsParams {
  float* out = nullptr;           // (count, width), row stride out_stride (0: width)
  const float* in = nullptr;      // source rows, row stride in_stride (0: width)
  const int32_t* rows = nullptr;  // (count) device: source row of each output row
  int64_t count = 0;
  int64_t width = 0;
  int64_t out_stride = 0;
  int64_t in_stride = 0;
};

Status gather_rows_f32(const GatherRowsParams& params, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
