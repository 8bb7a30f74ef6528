// The sticky-fault path of gpu_capi_device_fault_test.cu with several inferences live (needs a
// GPU): a model serving four inferences (max_inferences 4, the batched scheduler) has three
// running when a deliberately faulting kernel poisons the process's CUDA context; each of the
// three then answers LW_STATUS_DEVICE_FAILED naming the sticky error, from its own thread, none
// hangs on the scheduler's step, a new start is refused, and every free still works. Its own
// binary: the process cannot use the GPU after this test.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "capi/tests/capi_fixture.hpp"

namespace llama_worker::capi::testing {
namespace {

__global__ void store_to_invalid_address(int* pointer) { *pointer = 42; }

TEST(GpuCapiDeviceFault, AStickyErrorFailsEveryLiveInferenceOfABatchedModel) {
  CAPI_REQUIRE_MODELS();
  ASSERT_FALSE(batched_test_model().empty());
  cuda_context* context = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_init(0, &context));
  lw_model_options options = cuda_default_model_options();
  options.max_inferences = 4;
  cuda_model* model = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_load_model(context, batched_test_model().c_str(), &options, &model));
  const lw_sampling_params params = greedy(32);
  std::vector<cuda_inference*> inferences(3, nullptr);
  int32_t token, finished;
  const char* text;
  size_t length;
  for (size_t i = 0; i < inferences.size(); ++i) {
    const std::string prompt = "before the fault " + std::to_string(i);
    ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model, prompt.c_str(), &params, &inferences[i]));
  }
  for (cuda_inference* inference : inferences)
    ASSERT_LW(LW_STATUS_OK, cuda_inference_next_token(inference, &token, &text, &length, &finished));

  store_to_invalid_address<<<1, 1>>>(reinterpret_cast<int*>(uintptr_t{8}));
  ASSERT_NE(cudaDeviceSynchronize(), cudaSuccess);

  std::vector<lw_status> statuses(inferences.size(), LW_STATUS_OK);
  std::vector<std::string> messages(inferences.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < inferences.size(); ++i) {
    threads.emplace_back([&, i] {
      int32_t t, f;
      const char* s;
      size_t n;
      statuses[i] = cuda_inference_next_token(inferences[i], &t, &s, &n, &f);
      messages[i] = cuda_last_error();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t i = 0; i < inferences.size(); ++i) {
    EXPECT_STREQ(cuda_status_name(statuses[i]), "LW_STATUS_DEVICE_FAILED")
        << "inference " << i << ": " << messages[i];
    EXPECT_NE(messages[i].find("sticky"), std::string::npos) << "inference " << i << ": " << messages[i];
    EXPECT_LW(LW_STATUS_DEVICE_FAILED,
              cuda_inference_next_token(inferences[i], &token, &text, &length, &finished));
  }
  cuda_inference* late = nullptr;
  EXPECT_LW(LW_STATUS_DEVICE_FAILED, cuda_inference_start(model, "after the fault", &params, &late));
  EXPECT_EQ(late, nullptr);
  for (cuda_inference* inference : inferences) EXPECT_LW(LW_STATUS_OK, cuda_inference_free(inference));
  EXPECT_LW(LW_STATUS_OK, cuda_model_free(model));
  EXPECT_LW(LW_STATUS_OK, cuda_free(context));
}

}  // namespace
}  // namespace llama_worker::capi::testing
