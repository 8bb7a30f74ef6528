// The batched step's products (kernels/cuda/fragment_mma) on the Phi-3-mini and Qwen2.5-0.5B
// matrix shapes, at 1, 2, 4, 8, 16, 32 and 64 activation columns, in each copy form the shape's
// type has (coded Q4_K / Q6_K and fp16), beside the device-to-device copy rate measured in the
// same process. Counters: launches (per iteration: real_time / launches is one launch's time),
// copy_MB (bytes of the fragment copy one launch reads) and fraction_of_copy (copy bytes per second
// over the copy rate, which counts read + write bytes). Weight sets rotate through more than the 50 MB L2 so
// every launch reads from HBM. Run by ci/gpu-check-batched.sh with KERNEL_BENCH set; prints SKIPPED without a
// GPU.
#include <benchmark/benchmark.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_device.hpp"
#include "cuda/fragment_mma.cuh"
#include "gguf/tensor_type.hpp"

namespace {

using llama_worker::gguf::TensorType;
namespace kc = llama_worker::kernels::cuda;

constexpr int kLaunches = 50;
constexpr int64_t kRotation = 256 << 20;  // bytes of distinct copies cycled through

double g_copy_bytes_per_second = 0.0;

void BM_FragmentMma(benchmark::State& state, TensorType type, kc::FragmentForm form, int64_t out_features,
                    int64_t in_features, bool swiglu) {
  if (!llama_worker::bench::have_device()) {
    state.SkipWithError("SKIPPED: no CUDA device");
    return;
  }
  const int64_t columns = state.range(0);
  const auto& traits = llama_worker::gguf::traits(type);
  const int64_t row_bytes = in_features / traits.block_size * traits.bytes_per_block;
  const int64_t matrices = swiglu ? 2 : 1;
  const int64_t copy_bytes = kc::fragment_weight_bytes(form, out_features, in_features);
  const int64_t set_bytes = copy_bytes * matrices;
  const int64_t sets = std::max<int64_t>(1, kRotation / set_bytes + 1);
  const auto host = llama_worker::bench::random_blocks(type, row_bytes * out_features);
  uint8_t* blocks = nullptr;
  uint8_t* copies = nullptr;
  __half* x = nullptr;
  float* y = nullptr;
  const int64_t widest = std::max(in_features, out_features);
  if (cudaMalloc(reinterpret_cast<void**>(&blocks), host.size()) != cudaSuccess ||
      cudaMalloc(reinterpret_cast<void**>(&copies), static_cast<size_t>(sets * set_bytes)) != cudaSuccess ||
      cudaMalloc(reinterpret_cast<void**>(&x),
                 static_cast<size_t>(kc::fragment_activation_halves(64, widest)) * 2) != cudaSuccess ||
      cudaMalloc(reinterpret_cast<void**>(&y), static_cast<size_t>(64 * out_features) * 4) != cudaSuccess) {
    state.SkipWithError("device allocation failed");
    return;
  }
  cudaMemcpy(blocks, host.data(), host.size(), cudaMemcpyHostToDevice);
  cudaMemset(x, 0, static_cast<size_t>(kc::fragment_activation_halves(64, widest)) * 2);
  for (int64_t m = 0; m < sets * matrices; ++m) {
    if (!kc::repack_to_fragments(copies + m * copy_bytes, form, blocks, type, row_bytes, out_features,
                                 in_features, nullptr)) {
      state.SkipWithError("repack failed");
      return;
    }
  }
  kc::FragmentMmaParams p;
  p.y = y;
  p.x = x;
  p.form = form;
  p.in_features = in_features;
  p.out_features = out_features;
  p.columns = columns;
  auto launch = [&](int i) {
    p.weight = copies + (i % sets) * set_bytes;
    p.up_weight = swiglu ? copies + (i % sets) * set_bytes + copy_bytes : nullptr;
    return kc::fragment_mma(p, nullptr);
  };
  if (!llama_worker::bench::time_launches(state, kLaunches, "fragment_mma failed", launch)) return;
  state.SetBytesProcessed(state.iterations() * kLaunches * set_bytes);
  state.counters["launches"] = kLaunches;  // per iteration: real_time / launches is the time of one
  state.counters["copy_MB"] = static_cast<double>(set_bytes) / 1e6;
  state.counters["fraction_of_copy"] =
      benchmark::Counter(static_cast<double>(kLaunches * set_bytes) / g_copy_bytes_per_second,
                         benchmark::Counter::kIsIterationInvariantRate);
  cudaFree(blocks);
  cudaFree(copies);
  cudaFree(x);
  cudaFree(y);
}

}  // namespace

int main(int argc, char** argv) {
  if (llama_worker::bench::have_device()) {
    g_copy_bytes_per_second = llama_worker::bench::measure_copy_rate();
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
      {"phi3_o_Q4_K", TensorType::kQ4_K, 3072, 3072, false},
      {"phi3_down_Q6_K", TensorType::kQ6_K, 3072, 8192, false},
      {"phi3_output_Q6_K", TensorType::kQ6_K, 32064, 3072, false},
      {"qwen_qkv_Q5_0", TensorType::kQ5_0, 1152, 896, false},
      {"qwen_down_Q4_K", TensorType::kQ4_K, 896, 4864, false},
      {"qwen_output_Q8_0", TensorType::kQ8_0, 151936, 896, false},
  };
  for (const Case& c : cases) {
    std::vector<kc::FragmentForm> forms{kc::fragment_form_for(c.type)};
    if (forms[0] != kc::FragmentForm::kHalf) forms.push_back(kc::FragmentForm::kHalf);
    for (const kc::FragmentForm form : forms) {
      const std::string name = std::string(c.name) + "/" + kc::fragment_form_name(form);
      benchmark::RegisterBenchmark(name.c_str(), BM_FragmentMma, c.type, form, c.out, c.in, c.swiglu)
          ->ArgName("columns")
          ->RangeMultiplier(2)
          ->Range(1, 64)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
