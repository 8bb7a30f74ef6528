// Achieved memory bandwidth of the decode matrix-vector product (kernels/cuda/quant_gemv) on the
// Phi-3-mini, Qwen2.5-0.5B and Llama-2-7B matrix shapes (Q4_K / Q6_K ones also with int8
// activations, the `_int8` cases: QuantGemvParams::int8_activations), beside the device's device-to-device
// copy rate measured in the same process (the practical ceiling). Weights are random bytes with the fp16
// scale fields cleared to a finite value: the kernels' speed does not depend on the values.
//
// Timing: CUDA events around `kLaunches` back-to-back launches after a warm-up (one iteration);
// counters: bytes_per_second (weight bytes read), us_per_launch, and fraction_of_copy (of the copy
// rate, which counts read + write bytes). Weight sets rotate through a buffer larger than the 50 MB L2
// so every launch reads from HBM.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_device.hpp"
#include "cuda/quant_gemv.cuh"
#include "gguf/tensor_type.hpp"

namespace {

using llama_worker::gguf::TensorType;
namespace kc = llama_worker::kernels::cuda;
using llama_worker::bench::have_device;
using llama_worker::bench::measure_copy_rate;

constexpr int kLaunches = 50;
constexpr size_t kRotation = 256u << 20;  // bytes of distinct weights cycled through

double g_copy_bytes_per_second = 0.0;

void BM_QuantGemv(benchmark::State& state, TensorType type, int64_t out_features, int64_t in_features,
                  bool swiglu, bool int8) {
  if (!have_device()) {
    state.SkipWithError("SKIPPED: no CUDA device");
    return;
  }
  const auto& traits = llama_worker::gguf::traits(type);
  const int64_t row_bytes = in_features / traits.block_size * traits.bytes_per_block;
  const int64_t matrix_bytes = row_bytes * out_features * (swiglu ? 2 : 1);
  const int64_t sets = std::max<int64_t>(1, static_cast<int64_t>(kRotation) / matrix_bytes + 1);
  const std::vector<uint8_t> host = llama_worker::bench::random_blocks(type, matrix_bytes);
  uint8_t* weights = nullptr;
  float* x = nullptr;
  float* y = nullptr;
  if (cudaMalloc(reinterpret_cast<void**>(&weights), static_cast<size_t>(sets * matrix_bytes)) !=
          cudaSuccess ||
      cudaMalloc(reinterpret_cast<void**>(&x), static_cast<size_t>(in_features) * 4) != cudaSuccess ||
      cudaMalloc(reinterpret_cast<void**>(&y), static_cast<size_t>(out_features) * 4) != cudaSuccess) {
    state.SkipWithError("device allocation failed");
    return;
  }
  for (int64_t s = 0; s < sets; ++s)
    cudaMemcpy(weights + s * matrix_bytes, host.data(), host.size(), cudaMemcpyHostToDevice);
  std::vector<float> xs(static_cast<size_t>(in_features), 0.01f);
  cudaMemcpy(x, xs.data(), xs.size() * 4, cudaMemcpyHostToDevice);
  kc::QuantGemvParams p;
  p.y = y;
  p.x = x;
  p.weight_type = type;
  p.weight_row_bytes = row_bytes;
  p.in_features = in_features;
  p.out_features = out_features;
  p.int8_activations = int8;
  auto launch = [&](int i) {
    p.weight = weights + (i % sets) * matrix_bytes;
    p.up_weight = swiglu ? p.weight + row_bytes * out_features : nullptr;
    return kc::quant_gemv(p, nullptr);
  };
  if (!llama_worker::bench::time_launches(state, kLaunches, "quant_gemv failed", launch)) return;
  state.SetBytesProcessed(state.iterations() * kLaunches * matrix_bytes);
  // Launches per microsecond (a rate over the iterations' seconds), inverted: microseconds per launch.
  state.counters["us_per_launch"] =
      benchmark::Counter(static_cast<double>(kLaunches) * 1e-6,
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["matrix_MB"] = static_cast<double>(matrix_bytes) / 1e6;
  state.counters["copy_GBps"] = g_copy_bytes_per_second / 1e9;
  state.counters["fraction_of_copy"] =
      benchmark::Counter(static_cast<double>(kLaunches * matrix_bytes) / g_copy_bytes_per_second,
                         benchmark::Counter::kIsIterationInvariantRate);
  cudaFree(weights);
  cudaFree(x);
  cudaFree(y);
}

}  // namespace

int main(int argc, char** argv) {
  if (have_device()) {
    g_copy_bytes_per_second = measure_copy_rate();
    std::printf("device-to-device copy rate: %.0f GB/s (read + write)\n", g_copy_bytes_per_second / 1e9);
  } else {
    std::printf("SKIPPED: no CUDA device\n");
  }
  struct Case {
    const char* name;
    TensorType type;
    int64_t out, in;
    bool swiglu;
  };
  const Case cases[] = {
      {"phi3_qkv_Q4_K", TensorType::kQ4_K, 9216, 3072, false},
      {"phi3_gate_up_swiglu_Q4_K", TensorType::kQ4_K, 8192, 3072, true},
      {"phi3_down_Q6_K", TensorType::kQ6_K, 3072, 8192, false},
      {"phi3_down_Q4_K", TensorType::kQ4_K, 3072, 8192, false},
      {"phi3_output_Q6_K", TensorType::kQ6_K, 32064, 3072, false},
      {"qwen_q_Q5_0", TensorType::kQ5_0, 896, 896, false},
      {"qwen_gate_up_swiglu_Q5_0", TensorType::kQ5_0, 4864, 896, true},
      {"qwen_down_Q4_K", TensorType::kQ4_K, 896, 4864, false},
      {"qwen_output_Q8_0", TensorType::kQ8_0, 151936, 896, false},
      {"llama7b_q_Q4_K", TensorType::kQ4_K, 4096, 4096, false},
      {"llama7b_gate_up_swiglu_Q4_K", TensorType::kQ4_K, 11008, 4096, true},
      {"llama7b_down_Q6_K", TensorType::kQ6_K, 4096, 11008, false},
      {"llama7b_output_Q6_K", TensorType::kQ6_K, 32000, 4096, false},
  };
  for (const Case& c : cases) {
    for (const bool int8 : {false, true}) {
      if (int8 && c.type != TensorType::kQ4_K && c.type != TensorType::kQ6_K) continue;
      const std::string name = std::string(c.name) + (int8 ? "_int8" : "");
      benchmark::RegisterBenchmark(name.c_str(), BM_QuantGemv, c.type, c.out, c.in, c.swiglu, int8)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
