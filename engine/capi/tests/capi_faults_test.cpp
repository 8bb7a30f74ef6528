// Faults on the CPU backend (issue 9; the GPU twins are in gpu_capi_fault_injection_test.cpp):
//   - 1,000 start/cancel cycles (cancel before the prefill, after a decode step, and from
//     another thread while next_token runs) keep the host heap where it was and the model usable;
//   - an absurd token limit cannot overflow the context check (prompt + limit in int64 wrapped
//     around and let the generation run past the context): Generation and Session both refuse it.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>

#include "capi/tests/capi_fault_cycles.hpp"
#include "capi/tests/capi_fixture.hpp"
#include "capi/tests/cpu_engine.hpp"
#include "runtime/generation.hpp"
#include "runtime/session.hpp"

namespace llama_worker::capi::testing {
namespace {

TEST(CapiFaults, ThousandStartCancelCyclesKeepTheHostHeapStable) {
  CAPI_REQUIRE_MODELS();
  cuda_context* context = nullptr;
  cuda_model* model = nullptr;
  ASSERT_NO_FATAL_FAILURE(open_cpu_model(context, model));
  for (int i = 0; i < 30; ++i) start_cancel_cycle(model, i);  // warm: allocator caches, thread stacks
  const int64_t before = host_heap_bytes();
  for (int i = 0; i < 1000; ++i) {
    start_cancel_cycle(model, i);
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
