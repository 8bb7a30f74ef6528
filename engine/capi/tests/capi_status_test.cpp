// The C API's bad-request table (README.md), one test per row, on the CPU backend: each bad
// request gets its own status and a message naming the problem, and the model serves the next
// request afterwards. Also: handle safety (use after free, double free, wrong kind, cascades)
// and the sticky device failure (simulated through the testing hook; the real fault is
// gpu_capi_device_fault_tests).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "capi/testing_hooks.hpp"
#include "capi/tests/capi_fixture.hpp"

namespace llama_worker::capi::testing {
namespace {

class CapiStatus : public ::testing::Test {
 protected:
  void SetUp() override {
    CAPI_REQUIRE_MODELS();
    ASSERT_LW(LW_STATUS_OK, cuda_init(LW_DEVICE_CPU, &context_));
    const lw_model_options options = cpu_options();
    ASSERT_LW(LW_STATUS_OK, cuda_load_model(context_, test_models().model.c_str(), &options, &model_));
  }
  void TearDown() override {
    if (context_ != nullptr) cuda_free(context_);
  }

  // The request must fail with `expected`, name `needle` in its message, and leave the model
  // able to generate.
  void expect_rejected(lw_status got, lw_status expected, const std::string& needle) {
    EXPECT_EQ(std::string(cuda_status_name(got)), cuda_status_name(expected)) << cuda_last_error();
    EXPECT_NE(std::string(cuda_last_error()).find(needle), std::string::npos)
        << "message '" << cuda_last_error() << "' should mention '" << needle << "'";
    expect_model_still_works();
  }

  void expect_model_still_works() {
    const Generated after = generate(model_, "still there?", greedy(3));
    EXPECT_LW(LW_STATUS_OK, after.status);
    EXPECT_EQ(after.tokens.size(), 3u);
  }

  lw_status start(const char* prompt, const lw_sampling_params& params) {
    cuda_inference* inference = nullptr;
    const lw_status status = cuda_inference_start(model_, prompt, &params, &inference);
    if (inference != nullptr) cuda_inference_free(inference);
    return status;
  }

  cuda_context* context_ = nullptr;
  cuda_model* model_ = nullptr;
};

TEST_F(CapiStatus, NullHandle) {
  cuda_inference* inference = nullptr;
  expect_rejected(cuda_inference_start(nullptr, "hi", nullptr, &inference), LW_STATUS_NULL_HANDLE, "NULL");
  expect_rejected(cuda_model_free(nullptr), LW_STATUS_NULL_HANDLE, "model handle is NULL");
}

TEST_F(CapiStatus, FreedHandle) {
  cuda_inference* inference = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model_, "hi", nullptr, &inference));
  ASSERT_LW(LW_STATUS_OK, cuda_inference_free(inference));
  int32_t token, finished;
  const char* text;
  size_t length;
  expect_rejected(cuda_inference_next_token(inference, &token, &text, &length, &finished),
                  LW_STATUS_INVALID_HANDLE, "was freed");
  expect_rejected(cuda_inference_free(inference), LW_STATUS_INVALID_HANDLE, "was freed");  // double free
}

TEST_F(CapiStatus, HandleOfAnotherKind) {
  lw_model_info info;
  expect_rejected(cuda_model_get_info(reinterpret_cast<cuda_model*>(context_), &info),
                  LW_STATUS_INVALID_HANDLE, "not a model handle");
  int on_stack = 0;
  expect_rejected(cuda_model_get_info(reinterpret_cast<cuda_model*>(&on_stack), &info),
                  LW_STATUS_INVALID_HANDLE, "not a model handle");
}

TEST_F(CapiStatus, WrongOrderNextTokenAfterTheEnd) {
  cuda_inference* inference = nullptr;
  const lw_sampling_params params = greedy(1);
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model_, "hi", &params, &inference));
  int32_t token, finished = 0;
  const char* text;
  size_t length;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_next_token(inference, &token, &text, &length, &finished));
  EXPECT_EQ(finished, 1);
  EXPECT_LW(LW_STATUS_WRONG_ORDER, cuda_inference_next_token(inference, &token, &text, &length, &finished));
  EXPECT_NE(std::string(cuda_last_error()).find("already finished"), std::string::npos) << cuda_last_error();
  cuda_inference_free(inference);
  expect_model_still_works();
}

TEST_F(CapiStatus, TwoInferencesOnOneModelIsBusy) {
  cuda_inference* first = nullptr;
  cuda_inference* second = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model_, "one", nullptr, &first));
  EXPECT_LW(LW_STATUS_MODEL_BUSY, cuda_inference_start(model_, "two", nullptr, &second));
  EXPECT_NE(std::string(cuda_last_error()).find("live inference"), std::string::npos);
  EXPECT_EQ(second, nullptr);
  ASSERT_LW(LW_STATUS_OK, cuda_inference_free(first));
  expect_model_still_works();
}

TEST_F(CapiStatus, TokenIdOutOfRange) {
  cuda_inference* inference = nullptr;
  const int32_t ids[] = {1, 32064, 5};
  expect_rejected(cuda_inference_start_tokens(model_, ids, 3, nullptr, &inference),
                  LW_STATUS_TOKEN_OUT_OF_RANGE, "id 32064");
  const int32_t negative[] = {-7};
  expect_rejected(cuda_inference_start_tokens(model_, negative, 1, nullptr, &inference),
                  LW_STATUS_TOKEN_OUT_OF_RANGE, "id -7");
}

TEST_F(CapiStatus, InvalidUtf8) {
  expect_rejected(start("abc\xff", greedy(2)), LW_STATUS_INVALID_UTF8, "byte offset 3");
  expect_rejected(start("\xe6\x97", greedy(2)), LW_STATUS_INVALID_UTF8, "UTF-8");
}

TEST_F(CapiStatus, NanNegativeOrInfiniteSamplingParameters) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  struct Case {
    const char* needle;
    lw_sampling_params params;
  };
  std::vector<Case> cases;
  auto with = [](auto change) {
    lw_sampling_params params = cuda_default_sampling_params();
    change(params);
    return params;
  };
  cases.push_back({"temperature is NaN", with([&](auto& p) { p.temperature = nan; })});
  cases.push_back({"temperature is -1", with([&](auto& p) { p.temperature = -1.0f; })});
  cases.push_back({"temperature is inf", with([&](auto& p) { p.temperature = inf; })});
  cases.push_back({"top-k is -3", with([&](auto& p) { p.top_k = -3; })});
  cases.push_back({"top-p is NaN", with([&](auto& p) { p.top_p = nan; })});
  cases.push_back({"top-p is 0", with([&](auto& p) { p.top_p = 0.0f; })});
  cases.push_back({"min-p is -0.5", with([&](auto& p) { p.min_p = -0.5f; })});
  cases.push_back({"repetition penalty is inf", with([&](auto& p) { p.repeat_penalty = inf; })});
  cases.push_back({"repetition penalty is -1", with([&](auto& p) { p.repeat_penalty = -1.0f; })});
  cases.push_back({"repeat-last-n is -5", with([&](auto& p) { p.repeat_last_n = -5; })});
  cases.push_back({"chat is 7", with([&](auto& p) { p.chat = 7; })});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.needle);
    expect_rejected(start("hello", c.params), LW_STATUS_INVALID_ARGUMENT, c.needle);
  }
}

TEST_F(CapiStatus, MaxTokensZeroNegativeOrAbsurd) {
  expect_rejected(start("hello", greedy(0)), LW_STATUS_INVALID_ARGUMENT, "max_tokens is 0");
  expect_rejected(start("hello", greedy(-1)), LW_STATUS_INVALID_ARGUMENT, "max_tokens is -1");
  expect_rejected(start("hello", greedy(2000000000)), LW_STATUS_INVALID_ARGUMENT, "max_tokens is 2000000000");
}

TEST_F(CapiStatus, PromptLongerThanTheContext) {
  std::string prompt;
  for (int i = 0; i < 200; ++i) prompt += "hello world ";
  expect_rejected(start(prompt.c_str(), greedy(4)), LW_STATUS_PROMPT_TOO_LONG, "exceed the context of 256");
  expect_rejected(start("a short prompt", greedy(255)), LW_STATUS_PROMPT_TOO_LONG, "255 tokens to generate");
}

TEST_F(CapiStatus, EmptyPrompt) {
  expect_rejected(start("", greedy(4)), LW_STATUS_EMPTY_PROMPT, "empty");
  cuda_inference* inference = nullptr;
  const int32_t ids[1] = {1};
  expect_rejected(cuda_inference_start_tokens(model_, ids, 0, nullptr, &inference), LW_STATUS_EMPTY_PROMPT,
                  "no tokens");
}

TEST_F(CapiStatus, NullOutPointersAndPrompt) {
  expect_rejected(cuda_inference_start(model_, "hi", nullptr, nullptr), LW_STATUS_INVALID_ARGUMENT,
                  "out_inference");
  cuda_inference* inference = nullptr;
  expect_rejected(cuda_inference_start(model_, nullptr, nullptr, &inference), LW_STATUS_INVALID_ARGUMENT,
                  "prompt is NULL");
}

TEST_F(CapiStatus, ModelPathDoesNotExist) {
  cuda_model* model = nullptr;
  const lw_model_options options = cpu_options();
  const std::string path = test_models().directory + "/nothing-here.gguf";
  expect_rejected(cuda_load_model(context_, path.c_str(), &options, &model), LW_STATUS_FILE_NOT_FOUND, path);
  EXPECT_EQ(model, nullptr);
}

TEST_F(CapiStatus, ModelPathIsADirectory) {
  cuda_model* model = nullptr;
  const lw_model_options options = cpu_options();
  expect_rejected(cuda_load_model(context_, test_models().directory.c_str(), &options, &model),
                  LW_STATUS_IS_DIRECTORY, "is a directory");
}

TEST_F(CapiStatus, ModelPathIsNotARegularFile) {
  cuda_model* model = nullptr;
  const lw_model_options options = cpu_options();
  expect_rejected(cuda_load_model(context_, "/dev/null", &options, &model), LW_STATUS_IO_ERROR,
                  "not a regular file");
}

TEST_F(CapiStatus, MalformedFile) {
  cuda_model* model = nullptr;
  const lw_model_options options = cpu_options();
  expect_rejected(cuda_load_model(context_, test_models().no_tokenizer.c_str(), &options, &model),
                  LW_STATUS_MALFORMED_FILE, "tokenizer");
  const std::string truncated = test_models().directory + "/truncated.gguf";
  {
    std::FILE* out = std::fopen(truncated.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    std::fwrite("GGUF\x03\x00\x00\x00", 1, 8, out);
    std::fclose(out);
  }
  expect_rejected(cuda_load_model(context_, truncated.c_str(), &options, &model), LW_STATUS_MALFORMED_FILE,
                  "truncated.gguf");
}

TEST_F(CapiStatus, UnsupportedArchitecture) {
  cuda_model* model = nullptr;
  const lw_model_options options = cpu_options();
  expect_rejected(cuda_load_model(context_, test_models().unsupported_arch.c_str(), &options, &model),
                  LW_STATUS_UNSUPPORTED_ARCHITECTURE, "gpt9");
}

TEST_F(CapiStatus, BadModelOptions) {
  cuda_model* model = nullptr;
  lw_model_options options = cpu_options();
  options.context_length = 257;
  expect_rejected(cuda_load_model(context_, test_models().model.c_str(), &options, &model),
                  LW_STATUS_INVALID_ARGUMENT, "exceeds the context of 256");
  options = cpu_options();
  options.backend = 3;
  expect_rejected(cuda_load_model(context_, test_models().model.c_str(), &options, &model),
                  LW_STATUS_INVALID_ARGUMENT, "options.backend is 3");
  options = cpu_options();
  options.backend = LW_BACKEND_CUDA;
  const lw_status status = cuda_load_model(context_, test_models().model.c_str(), &options, &model);
  EXPECT_TRUE(status == LW_STATUS_INVALID_ARGUMENT || status == LW_STATUS_NOT_BUILT_WITH_CUDA)
      << cuda_last_error();
}

TEST_F(CapiStatus, ResidencyOnTheCpuBackendIsUnsupported) {
  lw_residency_report report;
  expect_rejected(cuda_check_vram_residency(model_, &report), LW_STATUS_UNSUPPORTED, "CPU backend");
}

TEST_F(CapiStatus, CorruptWeightsGiveANumericError) {
  cuda_model* model = nullptr;
  const lw_model_options options = cpu_options();
  ASSERT_LW(LW_STATUS_OK, cuda_load_model(context_, test_models().nan_weights.c_str(), &options, &model));
  const Generated generated = generate(model, "hello", greedy(4));
  EXPECT_LW(LW_STATUS_NUMERIC_ERROR, generated.status);
  EXPECT_NE(std::string(cuda_last_error()).find("non-finite logit"), std::string::npos) << cuda_last_error();
  EXPECT_TRUE(generated.tokens.empty());
  cuda_model_free(model);
  expect_model_still_works();
}

// The same on a model serving several inferences (the scheduler's path): each inference fails
// alone with the numeric error, never a token sampled from NaN.
TEST_F(CapiStatus, CorruptWeightsGiveANumericErrorWithSeveralInferences) {
  cuda_model* model = nullptr;
  lw_model_options options = cpu_options();
  options.max_inferences = 2;
  ASSERT_LW(LW_STATUS_OK, cuda_load_model(context_, test_models().nan_weights.c_str(), &options, &model));
  for (int round = 0; round < 2; ++round) {
    const Generated generated = generate(model, "hello", greedy(4));
    EXPECT_LW(LW_STATUS_NUMERIC_ERROR, generated.status);
    EXPECT_NE(std::string(cuda_last_error()).find("non-finite logit"), std::string::npos)
        << cuda_last_error();
    EXPECT_TRUE(generated.tokens.empty());
  }
  cuda_model_free(model);
  expect_model_still_works();
}

TEST_F(CapiStatus, Cancelled) {
  cuda_inference* inference = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model_, "hello", nullptr, &inference));
  ASSERT_LW(LW_STATUS_OK, cuda_inference_cancel(inference));
  int32_t token, finished;
  const char* text;
  size_t length;
  EXPECT_LW(LW_STATUS_CANCELLED, cuda_inference_next_token(inference, &token, &text, &length, &finished));
  EXPECT_NE(std::string(cuda_last_error()).find("cancelled"), std::string::npos) << cuda_last_error();
  EXPECT_LW(LW_STATUS_CANCELLED, cuda_inference_next_token(inference, &token, &text, &length, &finished));
  lw_inference_stats stats;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_get_stats(inference, &stats));
  EXPECT_EQ(stats.stop_reason, LW_STOP_CANCELLED);
  EXPECT_EQ(stats.generated_tokens, 0);
  cuda_inference_free(inference);
  expect_model_still_works();
}

TEST_F(CapiStatus, NoDeviceOrNotBuiltWithCuda) {
  cuda_context* context = nullptr;
  const lw_status status = cuda_init(4096, &context);
  EXPECT_TRUE(status == LW_STATUS_NO_DEVICE || status == LW_STATUS_NOT_BUILT_WITH_CUDA)
      << cuda_status_name(status);
  EXPECT_EQ(context, nullptr);
  EXPECT_LW(LW_STATUS_INVALID_ARGUMENT, cuda_init(-2, &context));
}

TEST_F(CapiStatus, StickyDeviceFailureAnswersEveryLaterCall) {
  cuda_inference* inference = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model_, "hello", nullptr, &inference));
  ASSERT_LW(LW_STATUS_OK, mark_context_failed_for_testing(context_, "simulated illegal address"));
  int32_t token, finished;
  const char* text;
  size_t length;
  lw_model_info info;
  lw_inference_stats stats;
  cuda_model* other = nullptr;
  cuda_inference* second = nullptr;
  const lw_model_options options = cpu_options();
  EXPECT_LW(LW_STATUS_DEVICE_FAILED, cuda_inference_next_token(inference, &token, &text, &length, &finished));
  EXPECT_NE(std::string(cuda_last_error()).find("simulated illegal address"), std::string::npos);
  EXPECT_LW(LW_STATUS_DEVICE_FAILED, cuda_inference_get_stats(inference, &stats));
  EXPECT_LW(LW_STATUS_DEVICE_FAILED, cuda_model_get_info(model_, &info));
  EXPECT_LW(LW_STATUS_DEVICE_FAILED, cuda_inference_start(model_, "again", nullptr, &second));
  EXPECT_LW(LW_STATUS_DEVICE_FAILED,
            cuda_load_model(context_, test_models().model.c_str(), &options, &other));
  // Stopping and freeing still work.
  EXPECT_LW(LW_STATUS_OK, cuda_inference_cancel(inference));
  EXPECT_LW(LW_STATUS_OK, cuda_inference_free(inference));
  EXPECT_LW(LW_STATUS_OK, cuda_model_free(model_));
  EXPECT_LW(LW_STATUS_OK, cuda_free(context_));
  context_ = nullptr;
}

TEST_F(CapiStatus, FreeingAParentInvalidatesItsChildren) {
  cuda_inference* inference = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model_, "hello", nullptr, &inference));
  ASSERT_LW(LW_STATUS_OK, cuda_free(context_));
  lw_model_info info;
  EXPECT_LW(LW_STATUS_INVALID_HANDLE, cuda_inference_cancel(inference));
  EXPECT_LW(LW_STATUS_INVALID_HANDLE, cuda_model_get_info(model_, &info));
  EXPECT_LW(LW_STATUS_INVALID_HANDLE, cuda_free(context_));
  context_ = nullptr;
}

TEST_F(CapiStatus, EveryStatusHasADistinctName) {
  std::set<std::string> names;
  for (int value = 0; value < LW_STATUS_COUNT; ++value) {
    names.insert(cuda_status_name(static_cast<lw_status>(value)));
    EXPECT_STRNE(cuda_status_string(static_cast<lw_status>(value)), "");
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(LW_STATUS_COUNT));
  // Values the enum can hold but that name no status (a negative value would be UB in C++).
  EXPECT_STREQ(cuda_status_name(static_cast<lw_status>(LW_STATUS_COUNT)), "LW_STATUS_UNKNOWN");
  EXPECT_STREQ(cuda_status_string(static_cast<lw_status>(31)), "unknown status code");
}

}  // namespace
}  // namespace llama_worker::capi::testing
