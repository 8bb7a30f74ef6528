// Several inferences on one model on the CUDA backend (lw_model_options.max_inferences >= 2, the
// batched scheduler; needs a GPU, skipped with 77 otherwise): each inference's tokens and text
// equal the same request run alone on that same multi-inference model (not a max_inferences 1
// model: the batched kernels differ from the fused decode step in the last bits), from one thread
// per inference and from one thread round-robin; cancelling and freeing some mid-run from another
// thread changes no token of the others; the limit and the shared KV cache answer their own
// statuses; load/generate/free cycles leave device memory where it started; a model whose heads
// the paged attention lacks is refused at load with the reason.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "capi/testing_hooks.hpp"
#include "capi/tests/capi_fixture.hpp"
#include "capi/tests/capi_round_robin.hpp"
#include "capi/tests/gpu_capi_fixture.hpp"

namespace llama_worker::capi::testing {
namespace {

class GpuCapiMultiInference : public ::testing::Test {
 protected:
  void SetUp() override {
    CAPI_REQUIRE_MODELS();
    ASSERT_LW(LW_STATUS_OK, cuda_init(0, &context_));
  }
  void TearDown() override {
    set_testing_kv_blocks(0);
    if (context_ != nullptr) cuda_free(context_);
  }
  cuda_model* load(int32_t max_inferences) {
    cuda_model* model = nullptr;
    lw_model_options options = gpu_options();
    options.max_inferences = max_inferences;
    EXPECT_LW(LW_STATUS_OK, cuda_load_model(context_, batched_test_model().c_str(), &options, &model));
    return model;
  }

  cuda_context* context_ = nullptr;
};

// What each request gives alone: on `model` itself, one at a time with nothing else live.
std::vector<Generated> alone(cuda_model* model, int count) {
  std::vector<Generated> expected;
  for (int i = 0; i < count; ++i) {
    expected.push_back(generate(model, prompt(i), request(i)));
    EXPECT_LW(LW_STATUS_OK, expected.back().status);
    EXPECT_FALSE(expected.back().tokens.empty()) << "request " << i;
  }
  return expected;
}

TEST_F(GpuCapiMultiInference, ManyThreadsGiveEachInferenceItsAloneTokens) {
  constexpr int kCount = 8;
  cuda_model* model = load(kCount);
  ASSERT_NE(model, nullptr);
  const std::vector<Generated> expected = alone(model, kCount);
  for (int round = 0; round < 3; ++round) {
    std::vector<Generated> got(kCount);
    std::vector<std::thread> threads;
    for (int i = 0; i < kCount; ++i) {
      threads.emplace_back([&, i] { got[static_cast<size_t>(i)] = generate(model, prompt(i), request(i)); });
    }
    for (auto& thread : threads) thread.join();
    for (size_t i = 0; i < kCount; ++i) {
      EXPECT_LW(LW_STATUS_OK, got[i].status);
      EXPECT_EQ(got[i].tokens, expected[i].tokens) << "inference " << i << " round " << round;
      EXPECT_EQ(got[i].pieces, expected[i].pieces) << "inference " << i << " round " << round;
      EXPECT_EQ(got[i].text, expected[i].text) << "inference " << i << " round " << round;
    }
  }
}

TEST_F(GpuCapiMultiInference, OneThreadRoundRobinGivesEachInferenceItsAloneTokens) {
  constexpr int kCount = 8;
  cuda_model* model = load(kCount);
  ASSERT_NE(model, nullptr);
  const std::vector<Generated> expected = alone(model, kCount);
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
    EXPECT_LW(LW_STATUS_OK, cuda_inference_free(run.inferences[i]));
  }
}

// Every inference on its own thread: inference 1 cancelled and inference 2 freed by the main
// thread while the steps run; the others still give their alone-tokens.
TEST_F(GpuCapiMultiInference, CancelAndFreeFromAnotherThreadMidRunLeaveTheOthersUnchanged) {
  constexpr int kCount = 5;
  cuda_model* model = load(kCount);
  ASSERT_NE(model, nullptr);
  const std::vector<Generated> expected = alone(model, kCount);
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
        out.text.append(text, length);
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
    EXPECT_EQ(got[i].text, expected[i].text) << "inference " << i;
  }
  // The freed one's slot is free again: a new start succeeds beside the cancelled one.
  cuda_inference* again = nullptr;
  const lw_sampling_params params = request(2);
  EXPECT_LW(LW_STATUS_OK, cuda_inference_start(model, prompt(2).c_str(), &params, &again));
}

TEST_F(GpuCapiMultiInference, StartsBeyondMaxInferencesAnswerTheLimit) {
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
  EXPECT_STREQ(cuda_status_name(LW_STATUS_INFERENCE_LIMIT), "LW_STATUS_INFERENCE_LIMIT");
  ASSERT_LW(LW_STATUS_OK, cuda_inference_free(inferences[1]));
  EXPECT_LW(LW_STATUS_OK, cuda_inference_start(model, "x", &params, &fourth));
  // A single-inference CUDA model keeps API 1's answer.
  cuda_model* single = load(1);
  ASSERT_NE(single, nullptr);
  cuda_inference* first = nullptr;
  cuda_inference* second = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(single, "x", &params, &first));
  EXPECT_LW(LW_STATUS_MODEL_BUSY, cuda_inference_start(single, "x", &params, &second));
}

// set_testing_kv_blocks reaches the CUDA backend too: cuda_load_model hands it to the scheduler,
// whose plan sizes CudaBackend::allocate_kv_blocks' paged pool.
TEST_F(GpuCapiMultiInference, AFullKvCacheAnswersKvCacheFull) {
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

  // Growing past position 32 needs a third block each: the first to ask fails alone with
  // KV_CACHE_FULL (its blocks go back), the other runs to its end.
  RoundRobin run;
  run.inferences = {first, second};
  run.got.resize(2);
  run.done.assign(2, false);
  while (!all_done(run)) pull_round(run);
  const size_t failed = run.got[0].status == LW_STATUS_OK ? 1 : 0;
  EXPECT_LW(LW_STATUS_KV_CACHE_FULL, run.got[failed].status);
  EXPECT_LW(LW_STATUS_OK, run.got[1 - failed].status);
  EXPECT_EQ(run.got[1 - failed].tokens.size(), 40u);
  int32_t token = 0, finished = 0;
  const char* text = nullptr;
  size_t length = 0;
  EXPECT_LW(LW_STATUS_KV_CACHE_FULL,
            cuda_inference_next_token(run.inferences[failed], &token, &text, &length, &finished));
  ASSERT_LW(LW_STATUS_OK, cuda_inference_free(first));
  ASSERT_LW(LW_STATUS_OK, cuda_inference_free(second));
  EXPECT_LW(LW_STATUS_OK, cuda_inference_start_tokens(model, c.data(), c.size(), &params, &third));
}

// The first cycle creates the context's lazily allocated state; free device memory after each
// later one is back where it was after the first (gpu_capi_test.cpp's 2 MiB tolerance).
TEST_F(GpuCapiMultiInference, LoadFreeCyclesLeaveDeviceMemoryWhereItStarted) {
  int64_t after_first = 0;
  std::vector<Generated> first_cycle;
  for (int cycle = 0; cycle < 3; ++cycle) {
    cuda_model* model = load(4);
    ASSERT_NE(model, nullptr);
    RoundRobin run = start_all(model, 2);
    while (!all_done(run)) pull_round(run);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_LW(LW_STATUS_OK, run.got[i].status);
      EXPECT_FALSE(run.got[i].tokens.empty());
      if (cycle > 0) {
        EXPECT_EQ(run.got[i].tokens, first_cycle[i].tokens) << "inference " << i << " cycle " << cycle;
      }
      EXPECT_LW(LW_STATUS_OK, cuda_inference_free(run.inferences[i]));
    }
    ASSERT_LW(LW_STATUS_OK, cuda_model_free(model));
    if (cycle == 0) {
      after_first = free_device_bytes();
      first_cycle = run.got;
    } else {
      EXPECT_NEAR(static_cast<double>(free_device_bytes()), static_cast<double>(after_first), 2.0 * 1048576)
          << "cycle " << cycle;
    }
  }
}

// A model whose heads the paged attention cannot take is refused at load, with the reason, when
// several inferences are asked for; one inference still loads it.
TEST_F(GpuCapiMultiInference, RefusesHeadsThePagedAttentionLacks) {
  lw_model_options options = gpu_options();
  options.max_inferences = 2;
  cuda_model* model = nullptr;
  EXPECT_LW(LW_STATUS_UNSUPPORTED, cuda_load_model(context_, test_models().model.c_str(), &options, &model));
  EXPECT_EQ(model, nullptr);
  EXPECT_NE(std::string(cuda_last_error()).find("head dimension of 64, 96 or 128"), std::string::npos)
      << cuda_last_error();
  options.max_inferences = 1;
  EXPECT_LW(LW_STATUS_OK, cuda_load_model(context_, test_models().model.c_str(), &options, &model));
  EXPECT_NE(model, nullptr);
}

}  // namespace
}  // namespace llama_worker::capi::testing
