// The C API's thread-safety claims (llama_worker.h, "Thread safety"), on the CPU backend:
// two threads driving two models (of one context, and of two contexts) give the same tokens as
// one thread; starts racing on one model give one inference and MODEL_BUSY for the rest;
// cancel from another thread stops a running generation; handles freed while other threads
// use them give INVALID_HANDLE, never a crash.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "capi/tests/capi_fixture.hpp"

namespace llama_worker::capi::testing {
namespace {

lw_sampling_params sampled(uint64_t seed) {
  lw_sampling_params params = cuda_default_sampling_params();
  params.temperature = 0.9f;
  params.seed = seed;
  params.max_tokens = 40;
  return params;
}

TEST(CapiThreads, TwoModelsInTwoThreadsMatchOneThread) {
  CAPI_REQUIRE_MODELS();
  cuda_context* context = nullptr;
  cuda_context* other_context = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_init(LW_DEVICE_CPU, &context));
  ASSERT_LW(LW_STATUS_OK, cuda_init(LW_DEVICE_CPU, &other_context));
  const lw_model_options options = cpu_options();
  cuda_model* models[3] = {};
  ASSERT_LW(LW_STATUS_OK, cuda_load_model(context, test_models().model.c_str(), &options, &models[0]));
  ASSERT_LW(LW_STATUS_OK, cuda_load_model(context, test_models().model.c_str(), &options, &models[1]));
  ASSERT_LW(LW_STATUS_OK, cuda_load_model(other_context, test_models().model.c_str(), &options, &models[2]));

  std::vector<Generated> expected;
  for (int i = 0; i < 3; ++i)
    expected.push_back(generate(models[0], "thread " + std::to_string(i), sampled(10 + i)));

  for (int round = 0; round < 3; ++round) {
    std::vector<Generated> got(3);
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
      threads.emplace_back([&, i] {
        got[static_cast<size_t>(i)] =
            generate(models[i], "thread " + std::to_string(i), sampled(10 + static_cast<uint64_t>(i)));
      });
    }
    for (auto& thread : threads) thread.join();
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_LW(LW_STATUS_OK, got[i].status);
      EXPECT_EQ(got[i].tokens, expected[i].tokens) << "model " << i << " round " << round;
      EXPECT_EQ(got[i].text, expected[i].text);
    }
  }
  cuda_free(context);
  cuda_free(other_context);
}

TEST(CapiThreads, RacingStartsOnOneModelGiveOneInference) {
  CAPI_REQUIRE_MODELS();
  cuda_context* context = nullptr;
  cuda_model* model = nullptr;
  ASSERT_NO_FATAL_FAILURE(open_cpu_model(context, model));
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> ok{0}, busy{0}, other{0};
    std::vector<cuda_inference*> inferences(8, nullptr);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < inferences.size(); ++i) {
      threads.emplace_back([&, i] {
        const lw_status status = cuda_inference_start(model, "race", nullptr, &inferences[i]);
        (status == LW_STATUS_OK ? ok : status == LW_STATUS_MODEL_BUSY ? busy : other)++;
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(ok.load(), 1);
    EXPECT_EQ(busy.load(), 7);
    EXPECT_EQ(other.load(), 0);
    for (cuda_inference* inference : inferences) {
      if (inference != nullptr) EXPECT_LW(LW_STATUS_OK, cuda_inference_free(inference));
    }
  }
  cuda_free(context);
}

TEST(CapiThreads, CancelFromAnotherThreadStopsTheGeneration) {
  CAPI_REQUIRE_MODELS();
  cuda_context* context = nullptr;
  cuda_model* model = nullptr;
  ASSERT_NO_FATAL_FAILURE(open_cpu_model(context, model));
  cuda_inference* inference = nullptr;
  lw_sampling_params params = sampled(5);
  params.max_tokens = 250;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model, "go", &params, &inference));
  std::atomic<int> produced{0};
  lw_status last = LW_STATUS_OK;
  std::thread worker([&] {
    for (int32_t finished = 0; !finished;) {
      int32_t token;
      const char* text;
      size_t length;
      last = cuda_inference_next_token(inference, &token, &text, &length, &finished);
      if (last != LW_STATUS_OK) break;
      produced++;
    }
  });
  while (produced.load() < 3) std::this_thread::yield();
  EXPECT_LW(LW_STATUS_OK, cuda_inference_cancel(inference));
  worker.join();
  EXPECT_LW(LW_STATUS_CANCELLED, last);
  EXPECT_LT(produced.load(), 250);
  lw_inference_stats stats;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_get_stats(inference, &stats));
  EXPECT_EQ(stats.stop_reason, LW_STOP_CANCELLED);
  EXPECT_LW(LW_STATUS_OK, cuda_inference_free(inference));
  cuda_free(context);
}

TEST(CapiThreads, FreeingWhileOtherThreadsUseTheHandleIsSafe) {
  CAPI_REQUIRE_MODELS();
  cuda_context* context = nullptr;
  cuda_model* model = nullptr;
  ASSERT_NO_FATAL_FAILURE(open_cpu_model(context, model));
  for (int round = 0; round < 10; ++round) {
    cuda_inference* inference = nullptr;
    lw_sampling_params params = sampled(1);
    params.max_tokens = 30;
    ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model, "free me", &params, &inference));
    std::atomic<bool> unexpected{false};
    std::vector<std::thread> users;
    for (int t = 0; t < 3; ++t) {
      users.emplace_back([&] {
        for (int32_t finished = 0; !finished;) {
          int32_t token;
          const char* text;
          size_t length;
          const lw_status status = cuda_inference_next_token(inference, &token, &text, &length, &finished);
          if (status == LW_STATUS_INVALID_HANDLE || status == LW_STATUS_WRONG_ORDER) break;
          if (status != LW_STATUS_OK) {
            unexpected = true;
            break;
          }
        }
      });
    }
    std::this_thread::yield();
    EXPECT_LW(LW_STATUS_OK, cuda_inference_free(inference));
    for (auto& user : users) user.join();
    EXPECT_FALSE(unexpected.load());
    // The model is free for the next inference.
    EXPECT_LW(LW_STATUS_OK, generate(model, "next", greedy(2)).status);
  }
  cuda_free(context);
}

}  // namespace
}  // namespace llama_worker::capi::testing
