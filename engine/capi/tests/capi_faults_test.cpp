// Faults on the CPU backend (issue 9; the GPU twins are in gpu_capi_fault_injection_test.cpp):
//   - 1,000 start/cancel cycles (cancel before the prefill, after a decode step, and from
//     another thread while next_token runs) keep the host heap where it was and the model usable;
//   - an absurd token limit cannot overflow the context check (prompt + limit in int64 wrapped
//     around and let the generation run past the context): Generation and Session both refuse it.
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <thread>

#include "capi/tests/capi_fixture.hpp"
#include "gguf/file.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/generation.hpp"
#include "runtime/session.hpp"
#include "tokenizer/vocabulary_from_gguf.hpp"

namespace llama_worker::capi::testing {
namespace {

// Bytes of the host heap in use (glibc); 0 under a sanitizer allocator that does not report it.
int64_t host_heap_bytes() { return static_cast<int64_t>(mallinfo2().uordblks); }

TEST(CapiFaults, ThousandStartCancelCyclesKeepTheHostHeapStable) {
  CAPI_REQUIRE_MODELS();
  cuda_context* context = nullptr;
  cuda_model* model = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_init(LW_DEVICE_CPU, &context));
  const lw_model_options options = cpu_options();
  ASSERT_LW(LW_STATUS_OK, cuda_load_model(context, test_models().model.c_str(), &options, &model));
  int32_t token, finished;
  const char* text;
  size_t length;
  auto cycle = [&](int i) {
    cuda_inference* inference = nullptr;
    const lw_sampling_params params = greedy(64);
    ASSERT_LW(LW_STATUS_OK, cuda_inference_start(model, "cancel me, please", &params, &inference));
    switch (i % 3) {
      case 0:  // before the prefill
        ASSERT_LW(LW_STATUS_OK, cuda_inference_cancel(inference));
        EXPECT_LW(LW_STATUS_CANCELLED, cuda_inference_next_token(inference, &token, &text, &length, &finished));
        break;
      case 1:  // after the prefill and a decode step
        ASSERT_LW(LW_STATUS_OK, cuda_inference_next_token(inference, &token, &text, &length, &finished));
        if (!finished) ASSERT_LW(LW_STATUS_OK, cuda_inference_next_token(inference, &token, &text, &length, &finished));
        ASSERT_LW(LW_STATUS_OK, cuda_inference_cancel(inference));
        if (!finished) {
          EXPECT_LW(LW_STATUS_CANCELLED, cuda_inference_next_token(inference, &token, &text, &length, &finished));
        }
        break;
      default: {  // from another thread while next_token runs: OK or CANCELLED, nothing else
        std::atomic<bool> go{false};
        std::thread canceller([&] {
          while (!go.load()) std::this_thread::yield();
          cuda_inference_cancel(inference);
        });
        go.store(true);
        lw_status status = LW_STATUS_OK;
        for (int step = 0; step < 64 && status == LW_STATUS_OK; ++step) {
          status = cuda_inference_next_token(inference, &token, &text, &length, &finished);
          if (finished) break;
        }
        canceller.join();
        EXPECT_TRUE(status == LW_STATUS_OK || status == LW_STATUS_CANCELLED) << cuda_status_name(status);
        break;
      }
    }
    ASSERT_LW(LW_STATUS_OK, cuda_inference_free(inference));
  };
  for (int i = 0; i < 30; ++i) cycle(i);  // warm: allocator caches, thread stacks
  const int64_t before = host_heap_bytes();
  for (int i = 0; i < 1000; ++i) {
    cycle(i);
    if (HasFatalFailure()) break;
  }
  const int64_t after = host_heap_bytes();
  if (before > 0) {
    std::printf("host heap: %lld bytes before, %+lld after 1,000 cycles\n", static_cast<long long>(before),
                static_cast<long long>(after - before));
    EXPECT_LT(after - before, 256 * 1024) << "the host heap grew over 1,000 start/cancel cycles";
  }
  const Generated still = generate(model, "still there?", greedy(4));
  EXPECT_LW(LW_STATUS_OK, still.status);
  EXPECT_EQ(still.tokens.size(), 4u);
  cuda_free(context);
}

struct CpuEngine {
  std::optional<gguf::File> file;
  std::optional<tokenizer::Tokenizer> tokenizer;
  std::unique_ptr<runtime::CpuBackend> backend;
  void open(const std::string& path) {
    auto opened = gguf::File::open(path);
    ASSERT_TRUE(opened) << opened.error().message;
    file.emplace(std::move(*opened));
    auto vocabulary = tokenizer::vocabulary_from_gguf(*file);
    ASSERT_TRUE(vocabulary) << vocabulary.error().message;
    auto created = tokenizer::Tokenizer::create(std::move(*vocabulary));
    ASSERT_TRUE(created) << created.error().message;
    tokenizer.emplace(std::move(*created));
    runtime::CpuBackendOptions options;
    options.threads = 1;
    auto cpu = runtime::CpuBackend::create(*file, options);
    ASSERT_TRUE(cpu) << cpu.error().message;
    backend = std::move(*cpu);
  }
};

TEST(CapiFaults, AnAbsurdTokenLimitCannotOverflowTheContextCheck) {
  CAPI_REQUIRE_MODELS();
  CpuEngine engine;
  ASSERT_NO_FATAL_FAILURE(engine.open(test_models().model));
  runtime::GenerationOptions options;
  options.sampling.temperature = 0.0f;
  for (const int64_t absurd : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max() - 1,
                               int64_t{1} << 62, int64_t{257}}) {
    SCOPED_TRACE(absurd);
    options.max_tokens = absurd;
    runtime::Generation generation(*engine.backend, *engine.tokenizer);
    const Status started = generation.start("hi", options);
    ASSERT_FALSE(started) << "accepted a token limit of " << absurd;
    EXPECT_EQ(started.code(), ErrorCode::kOutOfRange);
    EXPECT_NE(started.message().find("exceed the context of 256"), std::string::npos) << started.message();

    runtime::Session session(*engine.backend, *engine.tokenizer);
    int pieces = 0;
    auto result = session.generate("hi", options, [&](std::string_view) { ++pieces; });
    ASSERT_FALSE(result) << "Session accepted a token limit of " << absurd;
    EXPECT_EQ(result.error().code, ErrorCode::kOutOfRange);
    EXPECT_EQ(pieces, 0) << "Session generated before refusing";
  }
}

}  // namespace
}  // namespace llama_worker::capi::testing
