// What the kernel benchmarks share: whether a device is there, its device-to-device copy rate
// (the practical bandwidth ceiling, read + write bytes), random weight blocks whose fp16 scale
// fields are set to 2^-10 so every decoded value is finite (the kernels' speed does not depend on
// the values), and the event-timed launch loop.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <random>
#include <vector>

#include "gguf/tensor_type.hpp"

namespace llama_worker::bench {

inline bool have_device() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

inline double measure_copy_rate() {
  const size_t bytes = 512u << 20;
  void* a = nullptr;
  void* b = nullptr;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) return 0.0;
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
  cudaEventRecord(start);
  for (int i = 0; i < 10; ++i) cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
  cudaEventRecord(stop);
  cudaEventSynchronize(stop);
  float ms = 0.0f;
  cudaEventElapsedTime(&ms, start, stop);
  cudaFree(a);
  cudaFree(b);
  return 2.0 * 10.0 * static_cast<double>(bytes) / (ms / 1e3);  // read + write
}

// `bytes` of random blocks of `type` (a whole number of blocks) with finite scales.
inline std::vector<uint8_t> random_blocks(gguf::TensorType type, int64_t bytes) {
  const auto& traits = gguf::traits(type);
  std::vector<uint8_t> host(static_cast<size_t>(bytes));
  std::mt19937 rng(1);
  for (auto& byte : host) byte = static_cast<uint8_t>(rng());
  for (int64_t b = 0; b < bytes / static_cast<int64_t>(traits.bytes_per_block); ++b) {
    uint8_t* block = host.data() + b * traits.bytes_per_block;
    const int d_offset = type == gguf::TensorType::kQ6_K ? 208 : 0;
    block[d_offset] = 0x00;
    block[d_offset + 1] = 0x14;
    if (type == gguf::TensorType::kQ4_K) {
      block[2] = 0x00;
      block[3] = 0x14;
    }
  }
  return host;
}

// Runs `launch(i)` five times (a failure skips the benchmark with `failure`), then times
// `launches` back-to-back launches per iteration with CUDA events as the iteration's manual time.
// Returns whether the benchmark ran.
template <typename Launch>
bool time_launches(benchmark::State& state, int launches, const char* failure, Launch&& launch) {
  for (int i = 0; i < 5; ++i) {
    if (!launch(i)) {
      state.SkipWithError(failure);
      return false;
    }
  }
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (auto _ : state) {
    cudaEventRecord(start);
    for (int i = 0; i < launches; ++i) (void)launch(i);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms / 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return true;
}

}  // namespace llama_worker::bench
