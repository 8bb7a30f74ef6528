// Does compute-sanitizer's initcheck see cuBLAS's stores on this GPU? A GEMM (the shapes and
// call of kernels/cuda/tensor_core_matmul.cu: fp16 in, fp32 out, OP_T x OP_N) writes Y, then our
// own kernel reads every element of Y. Run under `compute-sanitizer --tool initcheck`:
//   plain    Y is first written by cuBLAS (beta 0); any "uninitialized read" reported in
//            read_all_kernel means initcheck did not track cuBLAS's stores.
//   preinit  our kernel writes Y first, then cuBLAS adds into it (beta 1), as the bias path does.
// Prints the checksum; exit 0 unless a CUDA or cuBLAS call fails. Built by hand, not by CMake:
//   nvcc -O2 -arch=sm_90 ci/probes/cublas_initcheck_probe.cu -lcublas -o cublas_initcheck_probe
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>

#include "probe_kernels.cuh"

using probes::fill_float;
using probes::fill_half;
using probes::ok;
using probes::read_all_kernel;

int main(int argc, char** argv) {
  const bool preinit = argc > 1 && std::strcmp(argv[1], "preinit") == 0;
  const int rows = 1152, tokens = 41, in = 896;  // Qwen2.5-0.5B's fused QKV width
  __half *w = nullptr, *x = nullptr;
  float *y = nullptr, *sum = nullptr;
  if (!ok(cudaMalloc(&w, sizeof(__half) * rows * in), "cudaMalloc") ||
      !ok(cudaMalloc(&x, sizeof(__half) * tokens * in), "cudaMalloc") ||
      !ok(cudaMalloc(&y, sizeof(float) * rows * tokens), "cudaMalloc") ||
      !ok(cudaMalloc(&sum, sizeof(float)), "cudaMalloc")) {
    return 1;
  }
  fill_half<<<(rows * in + 255) / 256, 256>>>(w, static_cast<long>(rows) * in, 0.01f);
  fill_half<<<(tokens * in + 255) / 256, 256>>>(x, static_cast<long>(tokens) * in, 0.02f);
  fill_float<<<1, 1>>>(sum, 1, 0.0f);
  if (preinit) fill_float<<<(rows * tokens + 255) / 256, 256>>>(y, static_cast<long>(rows) * tokens, 0.5f);
  cublasHandle_t handle = nullptr;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return 1;
  const float alpha = 1.0f, beta = preinit ? 1.0f : 0.0f;
  if (cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, rows, tokens, in, &alpha, w, CUDA_R_16F, in, x,
                   CUDA_R_16F, in, &beta, y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F,
                   CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "cublasGemmEx failed\n");
    return 1;
  }
  read_all_kernel<<<(rows * tokens + 255) / 256, 256>>>(y, static_cast<long>(rows) * tokens, sum);
  float host = 0.0f;
  if (!ok(cudaMemcpy(&host, sum, sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy")) return 1;
  std::printf("%s checksum %.6g\n", preinit ? "preinit" : "plain", host);
  cublasDestroy(handle);
  cudaFree(w), cudaFree(x), cudaFree(y), cudaFree(sum);
  return 0;
}
