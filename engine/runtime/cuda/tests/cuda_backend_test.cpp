// The CUDA backend against the CPU reference backend, end to end, on tiny hand-built models of
// every architecture (qwen2: Q/K/V bias; phi3: fused qkv and gate/up; llama: tied output):
// same top-1 and logits within the budget on every position of a prefill and of each decode
// step; the decode graph and plain launches give identical bits; runs are reproducible; every
// buffer is device memory; the memory plan refuses what does not fit and a failed load leaks
// nothing.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <optional>
#include <string>

#include "gguf/file.hpp"
#include "model/testing/tiny_model.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/cuda/cuda_backend.hpp"

namespace llama_worker::runtime::cuda {
namespace {

using model::testing::TinyModelSpec;

struct TinyModel {
  std::vector<uint8_t> bytes;
  std::optional<gguf::File> file;

  explicit TinyModel(TinyModelSpec spec) {
    spec.context = 96;
    auto built = model::testing::tiny_model_bytes(spec);
    EXPECT_TRUE(built) << built.error().message;
    bytes = std::move(*built);
    auto opened = gguf::File::from_bytes(bytes, "tiny.gguf");
    EXPECT_TRUE(opened) << opened.error().message;
    file.emplace(std::move(*opened));
  }
};

const std::vector<int32_t> kPrompt = {3, 17, 0, 36, 5, 5, 12, 29, 1, 8, 30};

double nmse(const std::vector<float>& actual, const std::vector<float>& expected) {
  if (actual.size() != expected.size()) return INFINITY;
  double error = 0, norm = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(actual[i])) return INFINITY;
    error += (double(actual[i]) - expected[i]) * (double(actual[i]) - expected[i]);
    norm += double(expected[i]) * expected[i];
  }
  return error / norm;
}

int64_t argmax(const float* row, int64_t count) { return std::max_element(row, row + count) - row; }

// fp16 KV cache on the GPU vs fp32 on the CPU: ~1e-3 relative error per element at most.
constexpr double kLogitsBudget = 1e-5;

void expect_same_top1(const std::vector<float>& gpu, const std::vector<float>& cpu, int64_t vocab,
                      const char* what) {
  for (size_t row = 0; row * vocab < cpu.size(); ++row) {
    EXPECT_EQ(argmax(gpu.data() + row * vocab, vocab), argmax(cpu.data() + row * vocab, vocab))
        << what << " row " << row;
  }
}

class CudaBackendVsCpu : public ::testing::TestWithParam<std::string> {
 protected:
  static TinyModelSpec spec_for(const std::string& name) {
    if (name == "qwen2") return model::testing::qwen2_spec();
    if (name == "phi3") return model::testing::phi3_spec();
    TinyModelSpec spec = model::testing::llama_spec();
    spec.tied = true;
    return spec;
  }
};

TEST_P(CudaBackendVsCpu, PrefillAndDecodeMatchTheReference) {
  TinyModel model(spec_for(GetParam()));
  auto cpu = CpuBackend::create(*model.file, {});
  ASSERT_TRUE(cpu) << cpu.error().message;
  auto gpu = CudaBackend::create(*model.file, {});
  ASSERT_TRUE(gpu) << gpu.error().message;
  const int64_t vocab = (*cpu)->config().vocab_size;

  std::vector<float> cpu_logits, gpu_logits;
  ASSERT_TRUE((*cpu)->forward(kPrompt, LogitsMode::kAllPositions, cpu_logits));
  const Status status = (*gpu)->forward(kPrompt, LogitsMode::kAllPositions, gpu_logits);
  ASSERT_TRUE(status) << status.message();
  EXPECT_LE(nmse(gpu_logits, cpu_logits), kLogitsBudget) << "prefill";
  expect_same_top1(gpu_logits, cpu_logits, vocab, "prefill");

  int32_t token = static_cast<int32_t>(argmax(cpu_logits.data() + (kPrompt.size() - 1) * vocab, vocab));
  for (int step = 0; step < 40; ++step) {
    const int32_t ids[1] = {token};
    ASSERT_TRUE((*cpu)->forward(ids, LogitsMode::kLastPosition, cpu_logits));
    ASSERT_TRUE((*gpu)->forward(ids, LogitsMode::kLastPosition, gpu_logits));
    EXPECT_LE(nmse(gpu_logits, cpu_logits), kLogitsBudget) << "decode step " << step;
    expect_same_top1(gpu_logits, cpu_logits, vocab, "decode");
    token = static_cast<int32_t>(argmax(cpu_logits.data(), vocab));
  }
  EXPECT_EQ((*gpu)->position(), (*cpu)->position());
}

TEST_P(CudaBackendVsCpu, GraphReplayAndRepeatedRunsAreBitIdentical) {
  TinyModel model(spec_for(GetParam()));
  auto run = [&](bool graph) {
    CudaBackendOptions options;
    options.use_graph = graph;
    auto gpu = CudaBackend::create(*model.file, options);
    EXPECT_TRUE(gpu) << gpu.error().message;
    std::vector<float> all, logits;
    EXPECT_TRUE((*gpu)->forward(kPrompt, LogitsMode::kLastPosition, logits));
    all = logits;
    int32_t token = 1;
    for (int step = 0; step < 20; ++step) {
      const int32_t ids[1] = {token};
      EXPECT_TRUE((*gpu)->forward(ids, LogitsMode::kLastPosition, logits));
      all.insert(all.end(), logits.begin(), logits.end());
      token = static_cast<int32_t>(argmax(logits.data(), static_cast<int64_t>(logits.size())));
    }
    return all;
  };
  const auto graph_a = run(true);
  const auto graph_b = run(true);
  const auto plain = run(false);
  ASSERT_EQ(graph_a.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(graph_a[i]), std::bit_cast<uint32_t>(graph_b[i]))
        << "run to run, index " << i;
    ASSERT_EQ(std::bit_cast<uint32_t>(graph_a[i]), std::bit_cast<uint32_t>(plain[i]))
        << "graph vs plain, index " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryArchitecture, CudaBackendVsCpu, ::testing::Values("qwen2", "phi3", "llama"));

TEST(CudaBackend, EveryBufferIsDeviceMemory) {
  TinyModel model(model::testing::qwen2_spec());
  auto gpu = CudaBackend::create(*model.file, {});
  ASSERT_TRUE(gpu) << gpu.error().message;
  std::vector<float> logits;
  ASSERT_TRUE((*gpu)->forward(kPrompt, LogitsMode::kLastPosition, logits));
  auto report = (*gpu)->check_vram_residency();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->allocations, 3);
  EXPECT_TRUE(report->non_device.empty());
  EXPECT_EQ(report->device_bytes, (*gpu)->memory_plan().weight_bytes + (*gpu)->memory_plan().kv_bytes() +
                                      (*gpu)->memory_plan().scratch_bytes);
}

TEST(CudaBackend, BadRequestsAreClearErrorsAndLeaveTheBackendUsable) {
  TinyModel model(model::testing::llama_spec());
  auto gpu = CudaBackend::create(*model.file, {});
  ASSERT_TRUE(gpu) << gpu.error().message;
  std::vector<float> logits;
  const int32_t bad[2] = {1, 1000};
  Status status = (*gpu)->forward(bad, LogitsMode::kLastPosition, logits);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("1000"), std::string::npos) << status.message();
  std::vector<int32_t> too_long(97, 1);
  EXPECT_EQ((*gpu)->forward(too_long, LogitsMode::kLastPosition, logits).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ((*gpu)->position(), 0);
  EXPECT_TRUE((*gpu)->forward(kPrompt, LogitsMode::kLastPosition, logits));
}

TEST(CudaBackend, BudgetTooSmallIsRefusedWithTheLargestContextAndNothingLeaks) {
  TinyModel model(model::testing::qwen2_spec());
  size_t free_before = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_before, &total), cudaSuccess);
  CudaBackendOptions options;
  options.max_batch = 8;
  auto plan_probe = CudaBackend::create(*model.file, options);
  ASSERT_TRUE(plan_probe) << plan_probe.error().message;
  const MemoryPlan plan = (*plan_probe)->memory_plan();
  plan_probe->reset();
  // Room for the weights, scratch, reserve and 40 positions only.
  options.vram_budget_bytes =
      plan.weight_bytes + plan.scratch_bytes + plan.reserve_bytes + 40 * plan.kv_bytes_per_position;
  auto refused = CudaBackend::create(*model.file, options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kOutOfMemory);
  EXPECT_NE(refused.error().message.find("the largest context that fits is 40"), std::string::npos)
      << refused.error().message;
  options.context = 40;
  auto fits = CudaBackend::create(*model.file, options);
  ASSERT_TRUE(fits) << fits.error().message;
  std::vector<int32_t> full(40, 2);
  std::vector<float> logits;
  EXPECT_TRUE((*fits)->forward(full, LogitsMode::kLastPosition, logits));
  fits->reset();
  size_t free_after = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_after, &total), cudaSuccess);
  EXPECT_EQ(free_after, free_before);
}

}  // namespace
}  // namespace llama_worker::runtime::cuda
