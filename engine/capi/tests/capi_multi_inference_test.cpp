// Several inferences on one model (lw_model_options.max_inferences >= 2, the CPU backend's
// scheduler): each inference's tokens and text equal the same request run alone on a
// single-inference model, from several threads and from one thread round-robin; the limit and the
// shared KV cache answer their own statuses; cancelling or freeing one changes no token of the
// others.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "capi/testing_hooks.hpp"
#include "capi/tests/capi_fixture.hpp"
#include "capi/tests/capi_round_robin.hpp"

namespace llama_worker::capi::testing {
namespace {

lw_model_options multi_options(int32_t max_inferences) {
  lw_model_options options = cpu_options();
  options.max_inferences = max_inferences;
  return options;
}

class CapiMultiInference : public ::testing::Test {
 protected:
  void SetUp() override {
    CAPI_REQUIRE_MODELS();
    ASSERT_LW(LW_STATUS_OK, cuda_init(LW_DEVICE_CPU, &context_));
    const lw_model_options single = cpu_options();
    ASSERT_LW(LW_STATUS_OK, cuda_load_model(context_, test_models().model.c_str(), &single, &single_));
  }
  void TearDown() override {
    set_testing_kv_blocks(0);
    if (context_ != nullptr) cuda_free(context_);
  }
  // What each request gives alone, on the single-inference model (API 1's path).
  std::vector<Generated> alone(int count) {
    std::vector<Generated> expected;
    for (int i = 0; i < count; ++i) expected.push_back(generate(single_, prompt(i), request(i)));
    return expected;
  }
  cuda_model* load(int32_t max_inferences) {
    cuda_model* model = nullptr;
    const lw_model_options options = multi_options(max_inferences);
    EXPECT_LW(LW_STATUS_OK, cuda_load_model(context_, test_models().model.c_str(), &options, &model));
    return model;
  }

  cuda_context* context_ = nullptr;
  cuda_model* single_ = nullptr;
};

TEST_F(CapiMultiInference, ThreadsGiveEachInferenceItsAloneTokens) {
  constexpr int kCount = 6;
  const std::vector<Generated> expected = alone(kCount);
  cuda_model* model = load(kCount);
  ASSERT_NE(model, nullptr);
  for (int round = 0; round < 3; ++round) {
    std::vector<Generated> got(kCount);
    std::vector<std::thread> threads;
    for (int i = 0; i < kCount; ++i) {
      threads.emplace_back([&, i] { got[static_cast<size_t>(i)] = generate(model, prompt(i), request(i)); });
    }
    for (auto& thread : threads) thread.join();
    for (size_t i = 0; i < kCount; ++i) {
      EXPECT_LW(LW_STATUS_OK, got[i].status);
      EXPECT_FALSE(got[i].tokens.empty());
      EXPECT_EQ(got[i].tokens, expected[i].tokens) << "inference " << i << " round " << round;
      EXPECT_EQ(got[i].pieces, expected[i].pieces) << "inference " << i << " round " << round;
    }
  }
}

TEST_F(CapiMultiInference, OneThreadRoundRobinGivesEachInferenceItsAloneTokens) {
  constexpr int kCount = 6;
  const std::vector<Generated> expected = alone(kCount);
  cuda_model* model = load(kCount);
  ASSERT_NE(model, nullptr);
  RoundRobin run = start_all(model, kCount);
  while (!all_done(run)) pull_round(run);
  for (size_t i = 0; i < kCount; ++i) {
    EXPECT_LW(LW_STATUS_OK, run.got[i].status);
    EXPECT_EQ(run.got[i].tokens, expected[i].tokens) << "inference " << i;
    EXPECT_EQ(run.got[i].pieces, expected[i].pieces) << "inference " << i;
    lw_inference_stats stats{};
    ASSERT_LW(LW_STATUS_OK, cuda_inference_get_stats(run.inferences[i], &stats));
    EXPECT_EQ(stats.generated_tokens, static_cast<int64_t>(expected[i].tokens.size()));
    EXPECT_EQ(stats.finished, 1);
    int32_t token = 0, finished = 0;
    const char* text = nullptr;
    size_t length = 0;
    EXPECT_LW(LW_STATUS_WRONG_ORDER,
              cuda_inference_next_token(run.inferences[i], &token, &text, &length, &finished));
    EXPECT_LW(LW_STATUS_OK, cuda_inference_free(run.inferences[i]));
  }
}

TEST_F(CapiMultiInference, CancelAndFreeOfOneLeaveTheOthersUnchanged) {
  constexpr int kCount = 5;
  const std::vector<Generated> expected = alone(kCount);
  cuda_model* model = load(kCount);
  ASSERT_NE(model, nullptr);
  RoundRobin run = start_all(model, kCount);
  for (int round = 0; round < 3; ++round) pull_round(run);
  ASSERT_FALSE(run.done[1] || run.done[2]);
  // Inference 1 cancelled from another thread, inference 2 freed: both mid-generation.
  std::thread([&] { EXPECT_LW(LW_STATUS_OK, cuda_inference_cancel(run.inferences[1])); }).join();
  EXPECT_LW(LW_STATUS_OK, cuda_inference_free(run.inferences[2]));
  run.done[2] = true;
  while (!all_done(run)) pull_round(run);
  EXPECT_LW(LW_STATUS_CANCELLED, run.got[1].status);
  EXPECT_EQ(run.got[1].tokens.size(), 3u);
  for (size_t i : {size_t{0}, size_t{3}, size_t{4}}) {
    EXPECT_LW(LW_STATUS_OK, run.got[i].status);
    EXPECT_EQ(run.got[i].tokens, expected[i].tokens) << "inference " << i;
  }
  // The freed one's slot is free again: kCount live inferences can run once more.
  cuda_inference* again = nullptr;
  const lw_sampling_params params = request(2);
  EXPECT_LW(LW_STATUS_OK, cuda_inference_start(model, prompt(2).c_str(), &params, &again));
}

// The same while every inference runs on its own thread: inference 1 cancelled and inference 2
// freed by the main thread while the steps run; the others still give their alone-tokens.
TEST_F(CapiMultiInference, CancelAndFreeFromAnotherThreadMidRunLeaveTheOthersUnchanged) {
  constexpr int kCount = 5;
  const std::vector<Generated> expected = alone(kCount);
  cuda_model* model = load(kCount);
  ASSERT_NE(model, nullptr);
  std::vector<cuda_inference*> inferences(kCount, nullptr);
  for (int i = 0; i < kCount; ++i) {
    lw_sampling_params params = request(i);
    if (i == 1 || i == 2) params.max_tokens = 200;  // still running when the main thread acts
    ASSERT_LW(LW_STATUS_OK,
              cuda_inference_start(model, prompt(i).c_str(), &params, &inferences[static_cast<size_t>(i)]));
  }
  std::vector<Generated> got(kCount);
  std::atomic<int> victims_ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCount; ++i) {
    threads.emplace_back([&, i] {
      Generated& out = got[static_cast<size_t>(i)];
      for (int32_t finished = 0; !finished;) {
        int32_t token = -1;
        const char* text = nullptr;
        size_t length = 0;
        out.status =
            cuda_inference_next_token(inferences[static_cast<size_t>(i)], &token, &text, &length, &finished);
        if (out.status != LW_STATUS_OK) break;
        out.tokens.push_back(token);
        if ((i == 1 || i == 2) && out.tokens.size() == 3) ++victims_ready;
      }
      if (i == 1 || i == 2) ++victims_ready;  // also when it ended before its third token
    });
  }
  while (victims_ready.load() < 2) std::this_thread::yield();
  EXPECT_LW(LW_STATUS_OK, cuda_inference_cancel(inferences[1]));
  EXPECT_LW(LW_STATUS_OK, cuda_inference_free(inferences[2]));
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(got[1].status == LW_STATUS_CANCELLED || got[1].status == LW_STATUS_OK)
      << cuda_status_name(got[1].status);
  EXPECT_TRUE(got[2].status == LW_STATUS_INVALID_HANDLE || got[2].status == LW_STATUS_OK)
      << cuda_status_name(got[2].status);
  for (size_t i : {size_t{0}, size_t{3}, size_t{4}}) {
    EXPECT_LW(LW_STATUS_OK, got[i].status);
    EXPECT_EQ(got[i].tokens, expected[i].tokens) << "inference " << i;
  }
}

TEST_F(CapiMultiInference, StartsBeyondMaxInferencesAnswerTheLimit) {
  cuda_model* model = load(3);
  ASSERT_NE(model, nullptr);
  const lw_sampling_params params = request(0);
  cuda_inference* inferences[3] = {};
  for (auto& inference : inferences)
    ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model, "x", &params, &inference));
  cuda_inference* fourth = nullptr;
  EXPECT_LW(LW_STATUS_INFERENCE_LIMIT, cuda_inference_start(model, "x", &params, &fourth));
  EXPECT_EQ(fourth, nullptr);
  EXPECT_NE(std::string(cuda_last_error()).find("3 live inferences"), std::string::npos) << cuda_last_error();
  ASSERT_LW(LW_STATUS_OK, cuda_inference_free(inferences[1]));
  EXPECT_LW(LW_STATUS_OK, cuda_inference_start(model, "x", &params, &fourth));
  // The single-inference model keeps API 1's answer.
  cuda_inference* first = nullptr;
  cuda_inference* second = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(single_, "x", &params, &first));
  EXPECT_LW(LW_STATUS_MODEL_BUSY, cuda_inference_start(single_, "x", &params, &second));
}

TEST_F(CapiMultiInference, MaxInferencesIsChecked) {
  cuda_model* model = nullptr;
  lw_model_options options = multi_options(-1);
  EXPECT_LW(LW_STATUS_INVALID_ARGUMENT,
            cuda_load_model(context_, test_models().model.c_str(), &options, &model));
  options = multi_options(257);
  EXPECT_LW(LW_STATUS_INVALID_ARGUMENT,
            cuda_load_model(context_, test_models().model.c_str(), &options, &model));
  // LW_BACKEND_CUDA serves several inferences too: without a device (or CUDA in the build) asking
  // for 2 fails as asking for 1 does; on a device this model's heads of 6 are refused for several
  // inferences (the paged attention takes 64, 96 or 128; gpu_capi_multi_inference_tests).
  options = multi_options(1);
  options.backend = LW_BACKEND_CUDA;
  const lw_status single = cuda_load_model(context_, test_models().model.c_str(), &options, &model);
  if (single == LW_STATUS_OK) cuda_model_free(model);
  model = nullptr;
  options.max_inferences = 2;
  const lw_status several = cuda_load_model(context_, test_models().model.c_str(), &options, &model);
  if (single == LW_STATUS_OK) {
    EXPECT_EQ(several, LW_STATUS_UNSUPPORTED) << cuda_last_error();
    EXPECT_NE(std::string(cuda_last_error()).find("head dimension"), std::string::npos) << cuda_last_error();
  } else {
    EXPECT_EQ(several, single) << cuda_last_error();
  }
  if (several == LW_STATUS_OK) {
    cuda_model_free(model);
  } else {
    EXPECT_EQ(model, nullptr);
  }
  EXPECT_EQ(cuda_default_model_options().max_inferences, 1);
}

// For TSan and ASan: the model freed while four threads are inside next_token of its
// inferences. Each thread ends with OK (it finished first) or INVALID_HANDLE, nothing is left
// registered, and no thread touches freed memory.
TEST_F(CapiMultiInference, FreeingTheModelWhileThreadsGenerateIsSafe) {
  constexpr int kCount = 4;
  cuda_model* model = load(kCount);
  ASSERT_NE(model, nullptr);
  std::atomic<int> tokens{0};
  std::atomic<int> done{0};
  std::vector<lw_status> statuses(kCount, LW_STATUS_INTERNAL);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCount; ++i) {
    threads.emplace_back([&, i] {
      lw_sampling_params params = request(i);
      params.max_tokens = 200;
      cuda_inference* inference = nullptr;
      lw_status status = cuda_inference_start(model, prompt(i).c_str(), &params, &inference);
      for (int32_t finished = 0; status == LW_STATUS_OK && !finished;) {
        int32_t token = -1;
        const char* text = nullptr;
        size_t length = 0;
        status = cuda_inference_next_token(inference, &token, &text, &length, &finished);
        if (status == LW_STATUS_OK) ++tokens;
      }
      statuses[static_cast<size_t>(i)] = status;
      if (inference != nullptr) cuda_inference_free(inference);
      ++done;
    });
  }
  while (tokens.load() < 2 * kCount && done.load() < kCount) std::this_thread::yield();
  EXPECT_LW(LW_STATUS_OK, cuda_model_free(model));
  for (auto& thread : threads) thread.join();
  for (lw_status status : statuses) {
    EXPECT_TRUE(status == LW_STATUS_OK || status == LW_STATUS_INVALID_HANDLE) << cuda_status_name(status);
  }
  EXPECT_EQ(registered_handles_for_testing().inferences, 0u);
}

TEST_F(CapiMultiInference, AFullKvCacheAnswersKvCacheFull) {
  set_testing_kv_blocks(4);  // 64 positions shared by every inference of the next load
  cuda_model* model = load(4);
  ASSERT_NE(model, nullptr);
  set_testing_kv_blocks(0);
  lw_sampling_params params = request(0);
  params.max_tokens = 40;
  const std::vector<int32_t> a = token_prompt(20, 300);  // 2 blocks each
  const std::vector<int32_t> b = token_prompt(20, 400);
  const std::vector<int32_t> c = token_prompt(20, 500);
  cuda_inference* first = nullptr;
  cuda_inference* second = nullptr;
  cuda_inference* third = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start_tokens(model, a.data(), a.size(), &params, &first));
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start_tokens(model, b.data(), b.size(), &params, &second));
  // No block left for a third prompt: refused at start, naming blocks needed and free.
  EXPECT_LW(LW_STATUS_KV_CACHE_FULL, cuda_inference_start_tokens(model, c.data(), c.size(), &params, &third));
  const std::string message = cuda_last_error();
  EXPECT_NE(message.find("KV pool exhausted"), std::string::npos) << message;
  EXPECT_NE(message.find("block"), std::string::npos) << message;
  EXPECT_STREQ(cuda_status_name(LW_STATUS_KV_CACHE_FULL), "LW_STATUS_KV_CACHE_FULL");

  // Growing past position 32 needs a third block each: the first to ask fails alone with
  // KV_CACHE_FULL (its blocks go back), the other runs to its end.
  RoundRobin run;
  run.inferences = {first, second};
  run.got.resize(2);
  run.done.assign(2, false);
  while (!all_done(run)) pull_round(run);
  const int failed = run.got[0].status == LW_STATUS_OK ? 1 : 0;
  EXPECT_LW(LW_STATUS_KV_CACHE_FULL, run.got[static_cast<size_t>(failed)].status);
  EXPECT_LW(LW_STATUS_OK, run.got[static_cast<size_t>(1 - failed)].status);
  EXPECT_EQ(run.got[static_cast<size_t>(1 - failed)].tokens.size(), 40u);
  int32_t token = 0, finished = 0;
  const char* text = nullptr;
  size_t length = 0;
  EXPECT_LW(LW_STATUS_KV_CACHE_FULL, cuda_inference_next_token(run.inferences[static_cast<size_t>(failed)],
                                                               &token, &text, &length, &finished));
  ASSERT_LW(LW_STATUS_OK, cuda_inference_free(first));
  ASSERT_LW(LW_STATUS_OK, cuda_inference_free(second));
  EXPECT_LW(LW_STATUS_OK, cuda_inference_start_tokens(model, c.data(), c.size(), &params, &third));
}

}  // namespace
}  // namespace llama_worker::capi::testing
