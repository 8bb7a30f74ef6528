// An unrecoverable CUDA error through the C API (needs a GPU): a deliberately faulting kernel
// (a store to an invalid address) poisons the process's CUDA context; the next device call the
// engine makes fails, the C API sees that the error is sticky, marks every context on the
// device failed, and answers every later call with LW_STATUS_DEVICE_FAILED instead of hanging
// or serving garbage; the free functions still work. Its own binary: the process cannot use the
// GPU after this test.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include "capi/tests/capi_fixture.hpp"

namespace llama_worker::capi::testing {
namespace {

__global__ void store_to_invalid_address(int* pointer) { *pointer = 42; }

TEST(GpuCapiDeviceFault, AStickyErrorFailsTheContextForEveryLaterCall) {
  CAPI_REQUIRE_MODELS();
  cuda_context* context = nullptr;
  cuda_context* bystander = nullptr;  // another context on the same device
  ASSERT_LW(LW_STATUS_OK, cuda_init(0, &context));
  ASSERT_LW(LW_STATUS_OK, cuda_init(0, &bystander));
  lw_model_options options = cuda_default_model_options();
  cuda_model* model = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_load_model(context, test_models().model.c_str(), &options, &model));
  cuda_inference* inference = nullptr;
  const lw_sampling_params params = greedy(16);
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model, "before the fault", &params, &inference));
  int32_t token, finished;
  const char* text;
  size_t length;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_next_token(inference, &token, &text, &length, &finished));

  store_to_invalid_address<<<1, 1>>>(reinterpret_cast<int*>(uintptr_t{8}));
  ASSERT_NE(cudaDeviceSynchronize(), cudaSuccess);

  EXPECT_LW(LW_STATUS_DEVICE_FAILED, cuda_inference_next_token(inference, &token, &text, &length, &finished));
  EXPECT_NE(std::string(cuda_last_error()).find("sticky"), std::string::npos) << cuda_last_error();
  EXPECT_LW(LW_STATUS_DEVICE_FAILED, cuda_inference_next_token(inference, &token, &text, &length, &finished));
  lw_model_info info;
  lw_residency_report report;
  cuda_model* another = nullptr;
  EXPECT_LW(LW_STATUS_DEVICE_FAILED, cuda_model_get_info(model, &info));
  EXPECT_LW(LW_STATUS_DEVICE_FAILED, cuda_check_vram_residency(model, &report));
  EXPECT_LW(LW_STATUS_DEVICE_FAILED,
            cuda_load_model(context, test_models().model.c_str(), &options, &another));
  EXPECT_LW(LW_STATUS_DEVICE_FAILED,
            cuda_load_model(bystander, test_models().model.c_str(), &options, &another));
  cuda_context* fresh = nullptr;
  EXPECT_LW(LW_STATUS_DEVICE_FAILED, cuda_init(0, &fresh));
  EXPECT_EQ(fresh, nullptr);

  EXPECT_LW(LW_STATUS_OK, cuda_inference_free(inference));
  EXPECT_LW(LW_STATUS_OK, cuda_model_free(model));
  EXPECT_LW(LW_STATUS_OK, cuda_free(context));
  EXPECT_LW(LW_STATUS_OK, cuda_free(bystander));

  // The host-only path is unaffected.
  cuda_context* host = nullptr;
  EXPECT_LW(LW_STATUS_OK, cuda_init(LW_DEVICE_CPU, &host));
  lw_model_options cpu = cpu_options();
  cuda_model* cpu_model = nullptr;
  EXPECT_LW(LW_STATUS_OK, cuda_load_model(host, test_models().model.c_str(), &cpu, &cpu_model));
  EXPECT_LW(LW_STATUS_OK, generate(cpu_model, "after the fault", greedy(3)).status);
  cuda_free(host);
}

}  // namespace
}  // namespace llama_worker::capi::testing
