// Gate 4, VRAM pressure (needs a GPU; skipped with 77 otherwise):
//   - a ballast cudaMalloc leaves room for the exact-shape Qwen2.5-0.5B weights and scratch but
//     not for a 4,096-position KV cache: loading fails with kOutOfMemory and the message says
//     what the model needs, what is free and the largest context that fits; device memory is
//     back at its level afterwards (nothing leaked);
//   - a load with that largest context then succeeds, every buffer is device memory, and the
//     context is actually usable: filled to its last position by prefill + decode steps;
//   - two models (exact-shape Qwen2.5-0.5B and Phi-3-mini) loaded at once generate, interleaved,
//     the same greedy tokens each gives alone, and unloading both returns free memory to its level;
//   - 100 load / forward / unload cycles of a small model return free device memory to its
//     starting level (within 2 MiB, after a warm-up load for the CUDA context's lazy state).
// Free memory is read with cudaMemGetInfo; the suite holds the GPU resource lock.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "exact_shape_models.hpp"
#include "gates_common.hpp"
#include "gguf/file.hpp"
#include "runtime/cuda/cuda_backend.hpp"

namespace llama_worker::gates {
namespace {

using runtime::LogitsMode;
using runtime::cuda::CudaBackend;
using runtime::cuda::CudaBackendOptions;

constexpr double kMiB = 1048576.0;
constexpr double kLeakTolerance = 2.0 * kMiB;

int64_t free_device_bytes() {
  size_t free_bytes = 0, total = 0;
  EXPECT_EQ(cudaMemGetInfo(&free_bytes, &total), cudaSuccess);
  return static_cast<int64_t>(free_bytes);
}

Result<std::unique_ptr<CudaBackend>> load(const gguf::File& file, int64_t context, int64_t budget_bytes = 0) {
  CudaBackendOptions options;
  options.context = context;
  options.vram_budget_bytes = budget_bytes;
  return CudaBackend::create(file, options);
}

std::vector<int32_t> greedy(CudaBackend& backend, std::vector<int32_t> prompt, int steps) {
  backend.reset();
  std::vector<float> logits;
  EXPECT_TRUE(backend.forward(prompt, LogitsMode::kLastPosition, logits));
  std::vector<int32_t> out;
  for (int step = 0; step < steps; ++step) {
    const int32_t next =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(next);
    const int32_t ids[1] = {next};
    const Status status = backend.forward(ids, LogitsMode::kLastPosition, logits);
    EXPECT_TRUE(status) << status.message();
    if (!status) break;
  }
  return out;
}

// One device allocation held for the scope of a test.
struct Ballast {
  void* data = nullptr;
  explicit Ballast(int64_t bytes) { EXPECT_EQ(cudaMalloc(&data, static_cast<size_t>(bytes)), cudaSuccess); }
  ~Ballast() {
    if (data != nullptr) cudaFree(data);
  }
  Ballast(const Ballast&) = delete;
  Ballast& operator=(const Ballast&) = delete;
};

TEST(Gate4VramPressure, TooLittleMemoryFailsClearlyLeaksNothingAndTheLargestContextThatFitsIsUsable) {
  auto file = gguf::File::open(exact_shape_qwen());
  ASSERT_TRUE(file) << file.error().message;
  {  // warm-up: the CUDA context's lazily allocated state (kernels load on first use; a 40-token
     // prompt also runs the tensor-core prefill path, whose cuBLAS kernels stay loaded)
    auto warm = load(*file, 4096);
    ASSERT_TRUE(warm) << warm.error().message;
    std::vector<int32_t> prompt(40);
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(9707 + 13 * i);
    greedy(**warm, prompt, 2);
  }
  const int64_t start = free_device_bytes();
  int64_t used_at_4096 = 0;
  {
    auto full = load(*file, 4096);
    ASSERT_TRUE(full) << full.error().message;
    used_at_4096 = start - free_device_bytes();
  }
  EXPECT_NEAR(static_cast<double>(free_device_bytes()), static_cast<double>(start), kLeakTolerance);
  // What the planner needs for 4,096 positions and what its KV cache takes, from the message of a
  // load refused by a 1 MiB budget (so the test follows the planner's reserve and scratch rules).
  auto probe = load(*file, 4096, int64_t{1} << 20);
  ASSERT_FALSE(probe);
  std::smatch planned;
  const std::string probe_message = probe.error().message;
  ASSERT_TRUE(std::regex_search(
      probe_message, planned, std::regex(R"(needs ([0-9.]+) MiB \(.*KV cache for 4096 positions ([0-9.]+))")))
      << probe_message;
  const double needs_mib = std::stod(planned[1].str()), kv_mib = std::stod(planned[2].str());
  // Leave room for everything but half of the KV cache: the largest context is then about 2,048.
  const int64_t leave = static_cast<int64_t>((needs_mib - kv_mib / 2) * kMiB);
  Ballast ballast(start - leave);
  ASSERT_NE(ballast.data, nullptr);
  const int64_t with_ballast = free_device_bytes();
  std::printf(
      "free %.1f MiB; a 4096-position load used %.1f MiB, its plan needs %.1f MiB (KV %.1f); ballast leaves "
      "%.1f MiB\n",
      start / kMiB, used_at_4096 / kMiB, needs_mib, kv_mib, with_ballast / kMiB);

  auto refused = load(*file, 4096);
  ASSERT_FALSE(refused) << "the load fit in " << with_ballast / kMiB << " MiB";
  EXPECT_EQ(refused.error().code, ErrorCode::kOutOfMemory);
  const std::string message = refused.error().message;
  std::printf("refused: %s\n", message.c_str());
  std::smatch needs, free_match, largest;
  EXPECT_TRUE(std::regex_search(message, needs, std::regex(R"(needs ([0-9.]+) MiB)"))) << message;
  EXPECT_TRUE(std::regex_search(message, free_match, std::regex(R"(free ([0-9.]+) MiB)"))) << message;
  ASSERT_TRUE(std::regex_search(message, largest, std::regex(R"(largest context that fits is ([0-9]+))")))
      << message;
  EXPECT_NEAR(std::stod(free_match[1].str()), with_ballast / kMiB, 2.0) << "the message's free memory";
  EXPECT_GT(std::stod(needs[1].str()), with_ballast / kMiB) << "it needs more than is free";
  const int64_t context = std::stoll(largest[1].str());
  EXPECT_GT(context, 1024);
  EXPECT_LT(context, 4096);
  EXPECT_NEAR(static_cast<double>(free_device_bytes()), static_cast<double>(with_ballast), kLeakTolerance)
      << "the failed load leaked device memory";

  {
    auto fits = load(*file, context);
    ASSERT_TRUE(fits) << "the largest context that fits (" << context
                      << ") did not load: " << fits.error().message;
    auto residency = (*fits)->check_vram_residency();
    ASSERT_TRUE(residency) << residency.error().message;
    EXPECT_TRUE(residency->non_device.empty());
    // Usable: fill every position (prefill in chunks, then decode steps to the last one).
    std::vector<int32_t> prompt(static_cast<size_t>(context - 8));
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(100 + (i * 7919) % 150000);
    const std::vector<int32_t> generated = greedy(**fits, prompt, 7);
    EXPECT_EQ(generated.size(), 7u);
    EXPECT_EQ((*fits)->position(), context - 1);
    std::vector<float> logits;
    const int32_t last[1] = {generated.back()};
    EXPECT_TRUE((*fits)->forward(last, LogitsMode::kLastPosition, logits));
    EXPECT_EQ((*fits)->position(), context);
    EXPECT_FALSE((*fits)->forward(last, LogitsMode::kLastPosition, logits)) << "past the context";
    std::printf("loaded and filled the largest context that fits: %lld positions\n",
                static_cast<long long>(context));
  }
  EXPECT_NEAR(static_cast<double>(free_device_bytes()), static_cast<double>(with_ballast), kLeakTolerance);
}

TEST(Gate4VramPressure, TwoModelsLoadedAtOnceGiveTheirAloneTokens) {
  auto qwen_file = gguf::File::open(exact_shape_qwen());
  auto phi3_file = gguf::File::open(exact_shape_phi3());
  ASSERT_TRUE(qwen_file && phi3_file);
  const std::vector<int32_t> qwen_prompt = {151644, 872, 198, 7985, 264, 6386, 38242, 911, 264, 22670, 13};
  const std::vector<int32_t> phi3_prompt = {1,     32010, 14350, 263,   298,   1335,
                                            29884, 1048,  263,   22796, 29889, 32007};
  std::vector<int32_t> qwen_alone, phi3_alone;
  {
    auto qwen = load(*qwen_file, 1024);
    ASSERT_TRUE(qwen) << qwen.error().message;
    qwen_alone = greedy(**qwen, qwen_prompt, 32);
  }
  {
    auto phi3 = load(*phi3_file, 1024);
    ASSERT_TRUE(phi3) << phi3.error().message;
    phi3_alone = greedy(**phi3, phi3_prompt, 32);
  }
  {
    const int64_t before = free_device_bytes();
    auto qwen = load(*qwen_file, 1024);
    auto phi3 = load(*phi3_file, 1024);
    ASSERT_TRUE(qwen) << qwen.error().message;
    ASSERT_TRUE(phi3) << phi3.error().message;
    std::printf("both loaded: %.1f MiB of device memory in use by them\n",
                (before - free_device_bytes()) / kMiB);
    for (CudaBackend* backend : {qwen->get(), phi3->get()}) {
      auto residency = backend->check_vram_residency();
      ASSERT_TRUE(residency) << residency.error().message;
      EXPECT_TRUE(residency->non_device.empty());
    }
    // Interleaved: one step of each in turn.
    std::vector<float> qwen_logits, phi3_logits;
    ASSERT_TRUE((*qwen)->forward(qwen_prompt, LogitsMode::kLastPosition, qwen_logits));
    ASSERT_TRUE((*phi3)->forward(phi3_prompt, LogitsMode::kLastPosition, phi3_logits));
    std::vector<int32_t> qwen_tokens, phi3_tokens;
    for (int step = 0; step < 32; ++step) {
      for (auto [backend, logits, tokens] : {std::tuple{qwen->get(), &qwen_logits, &qwen_tokens},
                                             std::tuple{phi3->get(), &phi3_logits, &phi3_tokens}}) {
        const int32_t next =
            static_cast<int32_t>(std::max_element(logits->begin(), logits->end()) - logits->begin());
        tokens->push_back(next);
        const int32_t ids[1] = {next};
        ASSERT_TRUE(backend->forward(ids, LogitsMode::kLastPosition, *logits));
      }
    }
    EXPECT_EQ(qwen_tokens, qwen_alone);
    EXPECT_EQ(phi3_tokens, phi3_alone);
  }
}

// Apart from the test above so that compute-sanitizer runs can leave out the free-memory level
// (its own allocations move it; ci/gpu-sanitize.sh filters "*FreeMemory*") and keep the tokens.
TEST(Gate4VramPressure, TwoModelsUnloadedReturnFreeMemoryToItsStartingLevel) {
  auto qwen_file = gguf::File::open(exact_shape_qwen());
  auto phi3_file = gguf::File::open(exact_shape_phi3());
  ASSERT_TRUE(qwen_file && phi3_file);
  {  // warm-up: the CUDA context's lazy state
    auto warm = load(*qwen_file, 1024);
    ASSERT_TRUE(warm) << warm.error().message;
    greedy(**warm, {151644, 872, 198}, 2);
  }
  const int64_t before = free_device_bytes();
  {
    auto qwen = load(*qwen_file, 1024);
    auto phi3 = load(*phi3_file, 1024);
    ASSERT_TRUE(qwen) << qwen.error().message;
    ASSERT_TRUE(phi3) << phi3.error().message;
    EXPECT_EQ(greedy(**qwen, {151644, 872, 198}, 2).size(), 2u);
    EXPECT_EQ(greedy(**phi3, {1, 32010, 14350}, 2).size(), 2u);
  }
  EXPECT_NEAR(static_cast<double>(free_device_bytes()), static_cast<double>(before), kLeakTolerance);
}

TEST(Gate4VramPressure, HundredLoadUnloadCyclesReturnFreeMemoryToItsStartingLevel) {
  auto file = gguf::File::open(gate_model("phi3.gguf"));
  ASSERT_TRUE(file) << file.error().message;
  {  // warm-up
    auto warm = load(*file, 256);
    ASSERT_TRUE(warm) << warm.error().message;
    greedy(**warm, {1, 15043, 29892}, 2);
  }
  const int64_t start = free_device_bytes();
  int64_t lowest = start, highest = start;
  for (int cycle = 0; cycle < 100; ++cycle) {
    {
      auto backend = load(*file, 256 + 16 * (cycle % 8));  // varying sizes, as a server would
      ASSERT_TRUE(backend) << "cycle " << cycle << ": " << backend.error().message;
      EXPECT_EQ(greedy(**backend, {1, 15043, 29892, 3186}, 3).size(), 3u);
    }
    const int64_t now = free_device_bytes();
    lowest = std::min(lowest, now);
    highest = std::max(highest, now);
  }
  const int64_t end = free_device_bytes();
  std::printf("100 cycles: free memory start %.1f MiB, end %.1f MiB, range after unloads [%.1f, %.1f] MiB\n",
              start / kMiB, end / kMiB, lowest / kMiB, highest / kMiB);
  EXPECT_NEAR(static_cast<double>(end), static_cast<double>(start), kLeakTolerance);
  EXPECT_GE(static_cast<double>(lowest), static_cast<double>(start) - kLeakTolerance)
      << "memory drifted during the cycles";
}

}  // namespace
}  // namespace llama_worker::gates
