// One error-check family for CUDA runtime calls. Library code returns a Status that names the
// statement, file, line and device; nothing here aborts.
//
//   LW_CUDA_TRY(cudaMalloc(&ptr, bytes));        // returns Status on failure
//   LW_CUDA_TRY_LAUNCH();                         // after every kernel launch
#pragma once

#include <cuda_runtime_api.h>

#include "core/status.hpp"

namespace llama_worker::kernels::cuda {

// "cudaMalloc(&ptr, bytes) failed at kernels/x.cu:12 on device 0: out of memory (cudaErrorMemoryAllocation)"
Error cuda_error(cudaError_t result, const char* statement, const char* file, int line);

}  // namespace llama_worker::kernels::cuda

#define LW_CUDA_TRY(statement)                                                                           \
  do {                                                                                                   \
    const cudaError_t lw_cuda_result_ = (statement);                                                     \
    if (lw_cuda_result_ != cudaSuccess)                                                                  \
      return ::llama_worker::kernels::cuda::cuda_error(lw_cuda_result_, #statement, __FILE__, __LINE__); \
  } while (0)

#define LW_CUDA_TRY_LAUNCH() LW_CUDA_TRY(cudaGetLastError())
