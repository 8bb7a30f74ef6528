// What the cuBLAS probes in this folder share: fills for the GEMM's inputs and output, the kernel
// that reads every output element after the GEMM, and a CUDA error check. Kernel names matter:
// the racecheck probe instruments only fill_float (`--kernel-name kns=fill_float`).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdio>

namespace probes {

__global__ void fill_half(__half* out, long n, float scale) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = __float2half_rn(scale * static_cast<float>((i * 7919) % 97 - 48));
}

__global__ void fill_float(float* out, long n, float value) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = value;
}

__global__ void read_all_kernel(const float* y, long n, float* sum) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(sum, y[i]);
}

inline bool ok(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
  return false;
}

}  // namespace probes
