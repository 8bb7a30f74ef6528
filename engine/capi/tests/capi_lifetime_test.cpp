// The C API's lifetime promise (llama_worker.h, "Thread safety"): a handle, or a parent of it,
// freed while another thread is inside a call on it makes that call answer
// LW_STATUS_INVALID_HANDLE, write no pointer into what the free destroyed, and leave nothing
// registered behind (no leak).
//
// Two kinds of test: the hooked ones (testing_hooks.hpp) run the free at the one moment the race
// needs, inside the call, so they fail every run when the promise is broken; the threaded ones
// race a real second thread against the call, for ThreadSanitizer (the tsan preset) and ASan to
// watch the memory the calls touch.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "capi/testing_hooks.hpp"
#include "capi/tests/capi_fixture.hpp"

namespace llama_worker::capi::testing {
namespace {

// Installs a hook for the length of a test and removes it even when an assertion returns early.
class ScopedHook {
 public:
  ScopedHook(TestingPoint point, std::function<void()> hook) : point_(point) {
    set_testing_hook(point, std::move(hook));
  }
  ~ScopedHook() { set_testing_hook(point_, {}); }
  ScopedHook(const ScopedHook&) = delete;
  ScopedHook& operator=(const ScopedHook&) = delete;

 private:
  TestingPoint point_;
};

void expect_same_handles(const RegisteredHandles& before, const RegisteredHandles& after) {
  EXPECT_EQ(after.contexts, before.contexts) << "contexts left registered";
  EXPECT_EQ(after.models, before.models) << "models left registered (a leak)";
  EXPECT_EQ(after.inferences, before.inferences) << "inferences left registered (a leak)";
}

// A generation long enough to be inside next_token when another thread frees something.
lw_sampling_params long_generation() {
  lw_sampling_params params = cuda_default_sampling_params();
  params.temperature = 0.0f;
  params.max_tokens = 200;
  return params;
}

const char kSentinelText[] = "untouched";

enum class Freed { kModel, kContext };

// next_token whose model (or context) is freed between the step and the writing of its results.
void next_token_freed_during_the_step(Freed freed) {
  const RegisteredHandles before = registered_handles_for_testing();
  cuda_context* context = nullptr;
  cuda_model* model = nullptr;
  ASSERT_NO_FATAL_FAILURE(open_cpu_model(context, model));
  cuda_inference* inference = nullptr;
  const lw_sampling_params params = long_generation();
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model, "free my parent", &params, &inference));
  lw_status free_status = LW_STATUS_INTERNAL;
  {
    ScopedHook hook(TestingPoint::kNextTokenAfterStep, [&] {
      free_status = freed == Freed::kModel ? cuda_model_free(model) : cuda_free(context);
    });
    int32_t token = -7;
    const char* text = kSentinelText;
    size_t length = 12345;
    int32_t finished = -3;
    EXPECT_LW(LW_STATUS_INVALID_HANDLE,
              cuda_inference_next_token(inference, &token, &text, &length, &finished));
    EXPECT_NE(std::string(cuda_last_error()).find("freed while cuda_inference_next_token ran"),
              std::string::npos)
        << cuda_last_error();
    EXPECT_EQ(text, kSentinelText) << "out_text was written: it would point into the freed inference";
    EXPECT_EQ(token, -7);
    EXPECT_EQ(length, 12345u);
    EXPECT_EQ(finished, -3);
  }
  EXPECT_LW(LW_STATUS_OK, free_status);
  EXPECT_LW(LW_STATUS_INVALID_HANDLE, cuda_inference_free(inference));
  if (freed == Freed::kModel) EXPECT_LW(LW_STATUS_OK, cuda_free(context));
  expect_same_handles(before, registered_handles_for_testing());
}

TEST(CapiLifetime, NextTokenWhoseModelIsFreedDuringTheStepAnswersInvalidHandle) {
  CAPI_REQUIRE_MODELS();
  next_token_freed_during_the_step(Freed::kModel);
}

TEST(CapiLifetime, NextTokenWhoseContextIsFreedDuringTheStepAnswersInvalidHandle) {
  CAPI_REQUIRE_MODELS();
  next_token_freed_during_the_step(Freed::kContext);
}

TEST(CapiLifetime, StatsOfAnInferenceFreedDuringTheCallAreNotWritten) {
  CAPI_REQUIRE_MODELS();
  const RegisteredHandles before = registered_handles_for_testing();
  cuda_context* context = nullptr;
  cuda_model* model = nullptr;
  ASSERT_NO_FATAL_FAILURE(open_cpu_model(context, model));
  cuda_inference* inference = nullptr;
  const lw_sampling_params params = long_generation();
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model, "stats", &params, &inference));
  {
    // The stats are read under the model's lock; the free happens in the step of the call before.
    ScopedHook hook(TestingPoint::kNextTokenAfterStep, [&] { cuda_model_free(model); });
    int32_t token;
    const char* text;
    size_t length;
    int32_t finished;
    EXPECT_LW(LW_STATUS_INVALID_HANDLE,
              cuda_inference_next_token(inference, &token, &text, &length, &finished));
  }
  lw_inference_stats stats;
  std::memset(&stats, 0x5a, sizeof stats);
  EXPECT_LW(LW_STATUS_INVALID_HANDLE, cuda_inference_get_stats(inference, &stats));
  EXPECT_EQ(stats.prompt_tokens, 0x5a5a5a5a5a5a5a5a);
  EXPECT_LW(LW_STATUS_OK, cuda_free(context));
  expect_same_handles(before, registered_handles_for_testing());
}

TEST(CapiLifetime, LoadWhoseContextIsFreedMeanwhileAnswersInvalidHandleAndKeepsNothing) {
  CAPI_REQUIRE_MODELS();
  const RegisteredHandles before = registered_handles_for_testing();
  cuda_context* context = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_init(LW_DEVICE_CPU, &context));
  lw_status free_status = LW_STATUS_INTERNAL;
  ScopedHook hook(TestingPoint::kLoadBeforeRegister, [&] { free_status = cuda_free(context); });
  const lw_model_options options = cpu_options();
  cuda_model* model = reinterpret_cast<cuda_model*>(static_cast<uintptr_t>(0x1234));
  EXPECT_LW(LW_STATUS_INVALID_HANDLE,
            cuda_load_model(context, test_models().model.c_str(), &options, &model));
  EXPECT_NE(std::string(cuda_last_error()).find("context was freed while cuda_load_model ran"),
            std::string::npos)
      << cuda_last_error();
  EXPECT_EQ(model, reinterpret_cast<cuda_model*>(static_cast<uintptr_t>(0x1234))) << "out_model was written";
  EXPECT_LW(LW_STATUS_OK, free_status);
  expect_same_handles(before, registered_handles_for_testing());
}

TEST(CapiLifetime, StartWhoseModelIsFreedMeanwhileAnswersInvalidHandleAndKeepsNothing) {
  CAPI_REQUIRE_MODELS();
  const RegisteredHandles before = registered_handles_for_testing();
  cuda_context* context = nullptr;
  cuda_model* model = nullptr;
  ASSERT_NO_FATAL_FAILURE(open_cpu_model(context, model));
  lw_status free_status = LW_STATUS_INTERNAL;
  {
    ScopedHook hook(TestingPoint::kStartBeforeRegister, [&] { free_status = cuda_model_free(model); });
    cuda_inference* inference = nullptr;
    const lw_sampling_params params = greedy(4);
    EXPECT_LW(LW_STATUS_INVALID_HANDLE, cuda_inference_start(model, "hello", &params, &inference));
    EXPECT_EQ(inference, nullptr) << "out_inference was written";
    const int32_t ids[] = {1, 2, 3};
    EXPECT_LW(LW_STATUS_INVALID_HANDLE, cuda_inference_start_tokens(model, ids, 3, &params, &inference));
  }
  EXPECT_LW(LW_STATUS_OK, free_status);
  EXPECT_LW(LW_STATUS_OK, cuda_free(context));
  expect_same_handles(before, registered_handles_for_testing());
}

TEST(CapiLifetime, StartTokensChecksTheCountAgainstTheContextBeforeReadingIds) {
  CAPI_REQUIRE_MODELS();
  cuda_context* context = nullptr;
  cuda_model* model = nullptr;
  ASSERT_NO_FATAL_FAILURE(open_cpu_model(context, model));
  // Four ids, a count far beyond them: reading the ids would run past the vector (ASan reports it;
  // without ASan the garbage ids answer TOKEN_OUT_OF_RANGE or worse).
  const std::vector<int32_t> ids = {1, 2, 3, 4};
  cuda_inference* inference = nullptr;
  const lw_sampling_params params = greedy(4);
  for (const size_t count : {size_t{1} << 20, size_t{257}, SIZE_MAX}) {
    EXPECT_LW(LW_STATUS_PROMPT_TOO_LONG,
              cuda_inference_start_tokens(model, ids.data(), count, &params, &inference));
    EXPECT_NE(std::string(cuda_last_error()).find("exceed the context of 256"), std::string::npos)
        << cuda_last_error();
  }
  EXPECT_EQ(inference, nullptr);
  EXPECT_LW(LW_STATUS_OK, cuda_free(context));
}

// A real second thread frees the model (or the context) while the first is inside next_token;
// every text the first thread received is read (ASan would see a freed block).
void free_while_generating(Freed freed) {
  const RegisteredHandles before = registered_handles_for_testing();
  cuda_context* context = nullptr;
  cuda_model* model = nullptr;
  ASSERT_NO_FATAL_FAILURE(open_cpu_model(context, model));
  cuda_inference* inference = nullptr;
  const lw_sampling_params params = long_generation();
  ASSERT_LW(LW_STATUS_OK,
            cuda_inference_start(model, "a long generation to free under", &params, &inference));
  std::atomic<int> produced{0};
  lw_status last = LW_STATUS_OK;
  std::string received;
  std::thread worker([&] {
    for (int32_t finished = 0; !finished;) {
      int32_t token;
      const char* text = nullptr;
      size_t length = 0;
      last = cuda_inference_next_token(inference, &token, &text, &length, &finished);
      if (last != LW_STATUS_OK) break;
      received.append(text, length);
      produced++;
    }
  });
  while (produced.load() < 2) std::this_thread::yield();
  EXPECT_LW(LW_STATUS_OK, freed == Freed::kModel ? cuda_model_free(model) : cuda_free(context));
  worker.join();
  EXPECT_LW(LW_STATUS_INVALID_HANDLE, last);
  EXPECT_LT(produced.load(), 200) << "the free did not stop the generation";
  if (freed == Freed::kModel) EXPECT_LW(LW_STATUS_OK, cuda_free(context));
  expect_same_handles(before, registered_handles_for_testing());
}

TEST(CapiLifetime, ModelFreedByAnotherThreadWhileGeneratingEndsTheGeneration) {
  CAPI_REQUIRE_MODELS();
  free_while_generating(Freed::kModel);
}

TEST(CapiLifetime, ContextFreedByAnotherThreadWhileGeneratingEndsTheGeneration) {
  CAPI_REQUIRE_MODELS();
  free_while_generating(Freed::kContext);
}

TEST(CapiLifetime, LoadsRacingContextFreesLeaveNothingBehind) {
  CAPI_REQUIRE_MODELS();
  const RegisteredHandles before = registered_handles_for_testing();
  const lw_model_options options = cpu_options();
  for (int round = 0; round < 6; ++round) {
    cuda_context* context = nullptr;
    ASSERT_LW(LW_STATUS_OK, cuda_init(LW_DEVICE_CPU, &context));
    cuda_model* model = nullptr;
    lw_status loaded = LW_STATUS_INTERNAL;
    std::thread loader(
        [&] { loaded = cuda_load_model(context, test_models().model.c_str(), &options, &model); });
    if (round % 2 == 1) std::this_thread::yield();
    EXPECT_LW(LW_STATUS_OK, cuda_free(context));
    loader.join();
    // Either order is fine; what is not is a model that outlives its freed context.
    EXPECT_TRUE(loaded == LW_STATUS_OK || loaded == LW_STATUS_INVALID_HANDLE) << cuda_status_name(loaded);
    if (loaded == LW_STATUS_OK) EXPECT_LW(LW_STATUS_INVALID_HANDLE, cuda_model_free(model));
  }
  expect_same_handles(before, registered_handles_for_testing());
}

// Two threads free the same handle at once: exactly one free is OK, the other says it was freed.
TEST(CapiLifetime, OfTwoRacingFreesExactlyOneSucceeds) {
  CAPI_REQUIRE_MODELS();
  const RegisteredHandles before = registered_handles_for_testing();
  for (int round = 0; round < 50; ++round) {
    cuda_context* context = nullptr;
    ASSERT_LW(LW_STATUS_OK, cuda_init(LW_DEVICE_CPU, &context));
    std::atomic<int> ready{0};
    lw_status statuses[2] = {LW_STATUS_INTERNAL, LW_STATUS_INTERNAL};
    std::vector<std::thread> freers;
    for (int t = 0; t < 2; ++t) {
      freers.emplace_back([&, t] {
        ready++;
        while (ready.load() < 2) std::this_thread::yield();
        statuses[t] = cuda_free(context);
      });
    }
    for (auto& freer : freers) freer.join();
    const int ok = (statuses[0] == LW_STATUS_OK) + (statuses[1] == LW_STATUS_OK);
    const int invalid = (statuses[0] == LW_STATUS_INVALID_HANDLE) + (statuses[1] == LW_STATUS_INVALID_HANDLE);
    ASSERT_EQ(ok, 1) << "round " << round << ": " << cuda_status_name(statuses[0]) << ", "
                     << cuda_status_name(statuses[1]);
    ASSERT_EQ(invalid, 1);
  }
  expect_same_handles(before, registered_handles_for_testing());
}

}  // namespace
}  // namespace llama_worker::capi::testing
