// Shared by the C API's C++ suites: the test models written once per process into a temporary
// directory (test_model.hpp), RAII owners for handles, and a generation loop.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "capi/tests/test_model.hpp"
#include "llama_worker.h"

namespace llama_worker::capi::testing {

struct TestModels {
  std::string directory;
  std::string model;             // the tiny phi3 model, context 256
  std::string unsupported_arch;  // general.architecture "gpt9"
  std::string no_tokenizer;      // no tokenizer.* metadata
  std::string nan_weights;       // every logit NaN
  std::string error;             // why the models could not be written ("" when they were)
};

inline const TestModels& test_models() {
  static const TestModels models = [] {
    TestModels m;
    const std::string vocabulary = phi3_vocabulary_path();
    if (vocabulary.empty() || !std::filesystem::exists(vocabulary)) {
      m.error = "the Phi-3 vocabulary '" + vocabulary + "' is missing (LLAMA_WORKER_SHARED_DATA_DIR)";
      return m;
    }
    m.directory =
        (std::filesystem::temp_directory_path() / ("capi_tests_" + std::to_string(getpid()))).string();
    std::filesystem::create_directories(m.directory);
    m.model = m.directory + "/model.gguf";
    m.unsupported_arch = m.directory + "/unsupported_arch.gguf";
    m.no_tokenizer = m.directory + "/no_tokenizer.gguf";
    m.nan_weights = m.directory + "/nan_weights.gguf";
    TestModelOptions unsupported, no_tokenizer, nan_weights;
    unsupported.architecture = "gpt9";
    no_tokenizer.with_tokenizer = false;
    nan_weights.corrupt_weights = true;
    for (const auto& [path, options] :
         {std::pair{m.model, TestModelOptions{}}, std::pair{m.unsupported_arch, unsupported},
          std::pair{m.no_tokenizer, no_tokenizer}, std::pair{m.nan_weights, nan_weights}}) {
      const Status written = write_test_model(vocabulary, path, options);
      if (!written) m.error = written.message();
    }
    return m;
  }();
  return models;
}

// The tiny phi3 test model with heads of 64 (embd 256, ff 512), the head sizes the CUDA backend's
// paged attention takes: what the GPU suites of several inferences load (the default tiny model's
// heads of 6 are refused there). Written on first use beside test_models()'s; "" when they failed.
inline const std::string& batched_test_model() {
  static const std::string path = [] {
    if (!test_models().error.empty()) return std::string();
    const std::string file = test_models().directory + "/batched_model.gguf";
    TestModelOptions options;
    options.embd = 256;
    options.ff = 512;
    const Status written = write_test_model(phi3_vocabulary_path(), file, options);
    EXPECT_TRUE(written) << written.message();
    return written ? file : std::string();
  }();
  return path;
}

#define CAPI_REQUIRE_MODELS()                                             \
  do {                                                                    \
    if (!::llama_worker::capi::testing::test_models().error.empty())      \
      GTEST_SKIP() << ::llama_worker::capi::testing::test_models().error; \
  } while (0)

// Expects `call` to return `expected`, printing the last error otherwise.
#define EXPECT_LW(expected, call)                                                 \
  do {                                                                            \
    const lw_status lw_got_ = (call);                                             \
    EXPECT_EQ(cuda_status_name(lw_got_), std::string(cuda_status_name(expected))) \
        << #call << ": " << cuda_last_error();                                    \
  } while (0)
#define ASSERT_LW(expected, call)                                                 \
  do {                                                                            \
    const lw_status lw_got_ = (call);                                             \
    ASSERT_EQ(cuda_status_name(lw_got_), std::string(cuda_status_name(expected))) \
        << #call << ": " << cuda_last_error();                                    \
  } while (0)

inline lw_model_options cpu_options() {
  lw_model_options options = cuda_default_model_options();
  options.backend = LW_BACKEND_CPU;
  options.cpu_threads = 1;
  return options;
}

// A context on the CPU device with the tiny test model loaded with cpu_options(); call under
// ASSERT_NO_FATAL_FAILURE. cuda_free(context) frees both.
inline void open_cpu_model(cuda_context*& context, cuda_model*& model) {
  ASSERT_LW(LW_STATUS_OK, cuda_init(LW_DEVICE_CPU, &context));
  const lw_model_options options = cpu_options();
  ASSERT_LW(LW_STATUS_OK, cuda_load_model(context, test_models().model.c_str(), &options, &model));
}

inline lw_sampling_params greedy(int32_t max_tokens) {
  lw_sampling_params params = cuda_default_sampling_params();
  params.temperature = 0.0f;
  params.max_tokens = max_tokens;
  return params;
}

struct Generated {
  lw_status status = LW_STATUS_OK;  // of the first failing call, OK when the generation finished
  std::vector<int32_t> tokens;
  std::vector<std::string> pieces;
  std::string text;
};

// Starts, runs to the end (or the first failure) and frees one inference.
inline Generated generate(cuda_model* model, const std::string& prompt, const lw_sampling_params& params) {
  Generated out;
  cuda_inference* inference = nullptr;
  out.status = cuda_inference_start(model, prompt.c_str(), &params, &inference);
  if (out.status != LW_STATUS_OK) return out;
  for (int32_t finished = 0; !finished;) {
    int32_t token = -1;
    const char* text = nullptr;
    size_t length = 0;
    out.status = cuda_inference_next_token(inference, &token, &text, &length, &finished);
    if (out.status != LW_STATUS_OK) break;
    out.tokens.push_back(token);
    out.pieces.emplace_back(text, length);
    out.text.append(text, length);
  }
  cuda_inference_free(inference);
  return out;
}

}  // namespace llama_worker::capi::testing
