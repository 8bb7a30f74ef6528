// Does compute-sanitizer's racecheck survive cuBLAS's cluster GEMMs on this GPU? Our kernel
// writes Y, a GEMM adds into it (beta 1: the call of kernels/cuda/tensor_core_matmul.cu with the
// bias seeded first, fp16 in, fp32 out, OP_T x OP_N, CUBLAS_WORKSPACE_CONFIG=:0:0 as the engine
// sets it), then our kernel reads every element. Arguments: rows tokens in [y_stride], default
// 256 512 256 with y stride = rows. The gate-4 context-length test's Qwen model makes 256 512 256
// 512 as its first prefill product, where cuBLAS picked a 4x2x1-cluster kernel on the H100; the
// default crashes filtered racecheck the same way (2026-11-27).
// Run it plainly, then under
//   compute-sanitizer --tool racecheck [--kernel-name kns=fill_float] ./cublas_racecheck_probe
// (CUBLASLT_LOG_LEVEL=2 prints the algorithm cuBLAS chose). Prints the checksum; exit 0 unless a
// CUDA or cuBLAS call fails. Built by hand, not by CMake:
//   nvcc -O2 -arch=sm_90 ci/probes/cublas_racecheck_probe.cu -lcublas -o cublas_racecheck_probe
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#include "probe_kernels.cuh"

using probes::fill_float;
using probes::fill_half;
using probes::ok;
using probes::read_all_kernel;

int main(int argc, char** argv) {
  const int rows = argc > 1 ? std::atoi(argv[1]) : 256;
  const int tokens = argc > 2 ? std::atoi(argv[2]) : 512;
  const int in = argc > 3 ? std::atoi(argv[3]) : 256;
  const int y_stride = argc > 4 ? std::atoi(argv[4]) : rows;
  if (rows <= 0 || tokens <= 0 || in <= 0 || y_stride < rows) {
    std::fprintf(stderr, "usage: %s [rows tokens in [y_stride >= rows]]\n", argv[0]);
    return 2;
  }
  setenv("CUBLAS_WORKSPACE_CONFIG", ":0:0", 0);
  const long y_elements = static_cast<long>(y_stride) * tokens;
  __half *w = nullptr, *x = nullptr;
  float *y = nullptr, *sum = nullptr;
  void* workspace = nullptr;
  cudaStream_t stream = nullptr;
  if (!ok(cudaMalloc(&w, sizeof(__half) * rows * in), "cudaMalloc") ||
      !ok(cudaMalloc(&x, sizeof(__half) * tokens * in), "cudaMalloc") ||
      !ok(cudaMalloc(&y, sizeof(float) * y_elements), "cudaMalloc") ||
      !ok(cudaMalloc(&sum, sizeof(float)), "cudaMalloc") ||
      !ok(cudaMalloc(&workspace, 4 << 20), "cudaMalloc") ||
      !ok(cudaStreamCreate(&stream), "cudaStreamCreate")) {
    return 1;
  }
  fill_half<<<(rows * in + 255) / 256, 256, 0, stream>>>(w, static_cast<long>(rows) * in, 0.01f);
  fill_half<<<(tokens * in + 255) / 256, 256, 0, stream>>>(x, static_cast<long>(tokens) * in, 0.02f);
  fill_float<<<1, 1, 0, stream>>>(sum, 1, 0.0f);
  fill_float<<<(y_elements + 255) / 256, 256, 0, stream>>>(y, y_elements, 0.5f);
  cublasHandle_t handle = nullptr;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS ||
      cublasSetStream(handle, stream) != CUBLAS_STATUS_SUCCESS ||
      cublasSetWorkspace(handle, workspace, 4 << 20) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "cuBLAS setup failed\n");
    return 1;
  }
  const float alpha = 1.0f, beta = 1.0f;
  const cublasStatus_t status =
      cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, rows, tokens, in, &alpha, w, CUDA_R_16F, in, x,
                   CUDA_R_16F, in, &beta, y, CUDA_R_32F, y_stride, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (status != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "cublasGemmEx failed with status %d\n", static_cast<int>(status));
    return 1;
  }
  read_all_kernel<<<(y_elements + 255) / 256, 256, 0, stream>>>(y, y_elements, sum);
  float host = 0.0f;
  if (!ok(cudaMemcpyAsync(&host, sum, sizeof(float), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync") ||
      !ok(cudaStreamSynchronize(stream), "cudaStreamSynchronize")) {
    return 1;
  }
  std::printf("%d x %d x %d (y stride %d): checksum %.6g\n", rows, tokens, in, y_stride, host);
  cublasDestroy(handle);
  cudaFree(w), cudaFree(x), cudaFree(y), cudaFree(sum), cudaFree(workspace);
  cudaStreamDestroy(stream);
  return 0;
}
