// Kernel launches with programmatic dependent launch (PDL, sm_90): a kernel launched through
// launch() may be scheduled while its predecessor in the stream is still running, so the
// gaps between the many small kernels of a decode step shrink, and a matrix-vector kernel can
// prefetch its weights (which no kernel writes) into L2 during its predecessor's tail.
//
// Contract for every kernel launched through launch(): call pdl_launch_dependents() early and
// pdl_wait() before its first access to memory that another kernel writes or reads (activations,
// caches, outputs). Only reads of weights may come before pdl_wait(). Since every such kernel
// waits for the full completion of its predecessor before touching shared data, the memory
// order of the stream is unchanged, and so are the results (the decode step stays bit
// reproducible). Kernels launched with <<<>>> are unaffected.
//
// The attribute is set on compute capability 9.0 or later only, and only with LLAMA_WORKER_PDL=1 in
// the environment (every launch() of the process) or while a ProgrammaticLaunchScope that is on
// lives on the launching thread (the batched step's launches, runtime/cuda/backend_settings.hpp).
// Measured on the H100, process-wide PDL made the one-inference decode step slower (Qwen2.5-0.5B
// shape 773 -> 681 tok/s, Phi-3-mini 349 -> 354), so it is off by default. Below sm_90 the device
// functions compile to nothing.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include <utility>

#include "cuda/launch_scope.hpp"

namespace llama_worker::kernels::cuda {

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ void prefetch_l2(const void* address) {
  asm volatile("prefetch.global.L2 [%0];" ::"l"(address));
}

// Weights are never written by a kernel: pull a warp's rows into L2 before waiting for the
// kernel that produces x (programmatic dependent launch).
__device__ __forceinline__ void prefetch_rows(const uint8_t* weight, int64_t row_bytes, int64_t first_row,
                                              int64_t rows, int rows_per_warp, int lane) {
  for (int64_t r = first_row; r < first_row + rows_per_warp && r < rows; ++r) {
    for (int64_t offset = 128 * lane; offset < row_bytes; offset += 32 * 128)
      prefetch_l2(weight + r * row_bytes + offset);
  }
}

// Whether launches from this thread on the current device use PDL (cached per device; thread-safe).
bool pdl_enabled();

template <typename... KernelArgs, typename... Args>
cudaError_t launch(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t shared_bytes,
                   cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  cudaLaunchAttribute attribute[1] = {};
  attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute[0].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = attribute;
  config.numAttrs = pdl_enabled() ? 1 : 0;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

}  // namespace llama_worker::kernels::cuda
