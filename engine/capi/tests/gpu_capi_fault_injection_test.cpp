// Faults on the CUDA backend through the C API (needs a GPU; skipped with 77 otherwise), issue 9:
//
//   - allocation failure: the injection hook of runtime/cuda/device_memory.hpp fails the n-th
//     device allocation of a load, for every n the load makes; each load answers
//     LW_STATUS_OUT_OF_DEVICE_MEMORY naming the allocation, free device memory returns to its
//     level, and the next load succeeds;
//   - session start and decode allocate no device memory at all (the hook, armed to fail the
//     next allocation, never fires while inferences start, generate and are cancelled), so an
//     allocation failure cannot happen there; the plan is made once, at load;
//   - 1,000 start/cancel cycles (cancel before the prefill, after a decode step, and from
//     another thread while next_token runs) leave free device memory and the host heap where
//     they were;
//   - weights that make every logit NaN give LW_STATUS_NUMERIC_ERROR, never a token.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "capi/tests/capi_fault_cycles.hpp"
#include "capi/tests/capi_fixture.hpp"
#include "capi/tests/gpu_capi_fixture.hpp"
#include "runtime/cuda/device_memory.hpp"

namespace llama_worker::capi::testing {
namespace {

namespace rc = runtime::cuda;

constexpr double kSlack = 2.0 * 1048576;  // the driver's free figure moves in 2 MiB pages

class GpuCapiFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    CAPI_REQUIRE_MODELS();
    ASSERT_LW(LW_STATUS_OK, cuda_init(0, &context_));
    // Warm up: the first load and generation create the context's lazily allocated state.
    cuda_model* model = load(test_models().model);
    ASSERT_NE(model, nullptr);
    EXPECT_LW(LW_STATUS_OK, generate(model, "warm", greedy(4)).status);
    cuda_model_free(model);
  }
  void TearDown() override {
    rc::fail_nth_device_allocation_for_testing(0);
    if (context_ != nullptr) cuda_free(context_);
  }
  cuda_model* load(const std::string& path) {
    cuda_model* model = nullptr;
    const lw_model_options options = gpu_options();
    EXPECT_LW(LW_STATUS_OK, cuda_load_model(context_, path.c_str(), &options, &model));
    return model;
  }
  cuda_context* context_ = nullptr;
};

TEST_F(GpuCapiFaults, EachDeviceAllocationOfALoadCanFailAndTheNextLoadSucceeds) {
  // How many device allocations a load makes (three today: weights, KV cache, scratch).
  const int64_t attempts_before = rc::device_allocation_attempts_for_testing();
  cuda_model* probe = load(test_models().model);
  ASSERT_NE(probe, nullptr);
  const int64_t per_load = rc::device_allocation_attempts_for_testing() - attempts_before;
  cuda_model_free(probe);
  ASSERT_GE(per_load, 1);

  for (int64_t n = 1; n <= per_load; ++n) {
    SCOPED_TRACE("failing device allocation " + std::to_string(n) + " of " + std::to_string(per_load));
    const int64_t before = free_device_bytes();
    const int64_t injected = rc::injected_device_allocation_failures_for_testing();
    rc::fail_nth_device_allocation_for_testing(n);
    cuda_model* model = nullptr;
    const lw_model_options options = gpu_options();
    EXPECT_LW(LW_STATUS_OUT_OF_DEVICE_MEMORY,
              cuda_load_model(context_, test_models().model.c_str(), &options, &model));
    const std::string message = cuda_last_error();
    EXPECT_NE(message.find("injected"), std::string::npos) << message;
    EXPECT_NE(message.find("cudaMalloc"), std::string::npos) << message;
    EXPECT_EQ(model, nullptr);
    EXPECT_EQ(rc::injected_device_allocation_failures_for_testing(), injected + 1);
    EXPECT_NEAR(static_cast<double>(free_device_bytes()), static_cast<double>(before), kSlack)
        << "a failed load must free everything it took";

    model = load(test_models().model);  // the next request succeeds
    ASSERT_NE(model, nullptr);
    EXPECT_LW(LW_STATUS_OK, generate(model, "after the failure", greedy(4)).status);
    cuda_model_free(model);
    EXPECT_NEAR(static_cast<double>(free_device_bytes()), static_cast<double>(before), kSlack);
  }
}

TEST_F(GpuCapiFaults, SessionStartAndDecodeAllocateNoDeviceMemory) {
  cuda_model* model = load(test_models().model);
  ASSERT_NE(model, nullptr);
  const int64_t attempts = rc::device_allocation_attempts_for_testing();
  rc::fail_nth_device_allocation_for_testing(1);  // any allocation from here on would fail
  for (int i = 0; i < 3; ++i) {
    const Generated generated = generate(model, "no allocation here", greedy(24));
    EXPECT_LW(LW_STATUS_OK, generated.status);
    EXPECT_EQ(generated.tokens.size(), 24u);
  }
  cuda_inference* inference = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model, "cancelled", nullptr, &inference));
  ASSERT_LW(LW_STATUS_OK, cuda_inference_cancel(inference));
  ASSERT_LW(LW_STATUS_OK, cuda_inference_free(inference));
  EXPECT_EQ(rc::device_allocation_attempts_for_testing(), attempts)
      << "starting, generating or cancelling allocated device memory";
  rc::fail_nth_device_allocation_for_testing(0);
  cuda_model_free(model);
}

TEST_F(GpuCapiFaults, ThousandStartCancelCyclesLeaveDeviceAndHostMemoryWhereTheyStarted) {
  cuda_model* model = load(test_models().model);
  ASSERT_NE(model, nullptr);
  for (int i = 0; i < 30; ++i) start_cancel_cycle(model, i);  // warm: allocator pools, thread stacks
  const int64_t device_before = free_device_bytes();
  const int64_t host_before = host_heap_bytes();
  for (int i = 0; i < 1000; ++i) {
    start_cancel_cycle(model, i);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_NEAR(static_cast<double>(free_device_bytes()), static_cast<double>(device_before), kSlack);
  if (host_before > 0) {
    const int64_t growth = host_heap_bytes() - host_before;
    std::printf("host heap: %lld bytes before, growth %lld bytes after 1,000 cycles\n",
                static_cast<long long>(host_before), static_cast<long long>(growth));
    EXPECT_LT(growth, 256 * 1024) << "the host heap grew over 1,000 start/cancel cycles";
  }
  // The model still generates.
  EXPECT_LW(LW_STATUS_OK, generate(model, "still there?", greedy(8)).status);
  cuda_model_free(model);
}

TEST_F(GpuCapiFaults, NanWeightsGiveANumericErrorNotAToken) {
  cuda_model* model = load(test_models().nan_weights);
  ASSERT_NE(model, nullptr);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const Generated generated = generate(model, "hello", greedy(4));
    EXPECT_LW(LW_STATUS_NUMERIC_ERROR, generated.status);
    EXPECT_NE(std::string(cuda_last_error()).find("non-finite logit"), std::string::npos)
        << cuda_last_error();
    EXPECT_TRUE(generated.tokens.empty());
  }
  cuda_model_free(model);
  cuda_model* healthy = load(test_models().model);  // the device and context stay usable
  ASSERT_NE(healthy, nullptr);
  EXPECT_LW(LW_STATUS_OK, generate(healthy, "after the NaN model", greedy(4)).status);
  cuda_model_free(healthy);
}

}  // namespace
}  // namespace llama_worker::capi::testing
