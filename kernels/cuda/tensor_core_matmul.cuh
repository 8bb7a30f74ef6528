// Prefill matrix product on tensor cores: y[t][o] = sum_i x[t][i] * W[o][i] (+ bias[o]) (+ y[t][o]).
//
// W stays quantized in memory; for a batch of tokens each tile of up to `weight_tile_elements`
// weights is dequantized to fp16 (the same bit-exact decoder as every other kernel,
// quant_blocks.cuh), the activations are rounded to fp16 once, and cuBLAS GemmEx multiplies them
// with fp32 accumulation and fp32 output. The fp16 rounding of the activations is the only
// numerical difference from the CPU reference; the conformance suite bounds it by NMSE.
//
// cuBLAS is loaded at run time (dlopen of libcublas.so.<major>), so the engine needs it only when
// this path is used: TensorCoreSession::create fails with kUnsupported when it cannot be loaded,
// and callers keep the CUDA-core kernel (quant_matmul.cuh). Deterministic: cuBLAS gives the same
// bits run to run for the same problem on the same GPU (no atomics-based algorithms are enabled).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>

#include "core/status.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::kernels::cuda {

// One cuBLAS handle, bound to one stream; owned by one backend (not shared across threads).
class TensorCoreSession {
 public:
  static Result<std::unique_ptr<TensorCoreSession>> create(cudaStream_t stream);
  ~TensorCoreSession();
  TensorCoreSession(const TensorCoreSession&) = delete;
  TensorCoreSession& operator=(const TensorCoreSession&) = delete;

  void* handle() const { return handle_; }
  // Hands cuBLAS a workspace of ours (device memory that lives as long as this session).
  Status set_workspace(void* workspace, int64_t bytes);

 private:
  TensorCoreSession() = default;
  void* handle_ = nullptr;
};

// Starts loading cuBLAS (dlopen, symbol lookup) on a background thread and returns at once, so
// that the library's load overlaps CUDA context creation and file reading; TensorCoreSession::create
// waits for it. Call at engine start-up (cuda_init, the CLI's device set-up); calling it again,
// or never, is harmless.
void preload_tensor_core_library();

struct TensorCoreMatmulParams {
  float* y = nullptr;               // (tokens, out_features), row stride y_stride
  const float* x = nullptr;         // (tokens, in_features), row stride x_stride
  const uint8_t* weight = nullptr;  // out_features rows of weight_row_bytes, device memory
  gguf::TensorType weight_type = gguf::TensorType::kF32;
  int64_t weight_row_bytes = 0;
  const float* bias = nullptr;  // (out_features) or null
  bool accumulate = false;      // y += product (the residual form, y holding the residual)
  int64_t tokens = 0;
  int64_t in_features = 0;
  int64_t out_features = 0;
  int64_t x_stride = 0;              // 0: in_features
  int64_t y_stride = 0;              // 0: out_features
  __half* weight_tile = nullptr;     // device scratch of weight_tile_elements halves
  int64_t weight_tile_elements = 0;  // >= in_features
  __half* x_half = nullptr;          // device scratch of tokens * in_features halves
};

Status tensor_core_matmul(const TensorCoreSession& session, const TensorCoreMatmulParams& params,
                          cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
