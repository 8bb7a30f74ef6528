// Shared by the C API fault suites, CPU (capi_faults_test.cpp) and CUDA
// (gpu_capi_fault_injection_test.cpp): one start/cancel cycle of the 1,000-cycle tests, and the
// host heap figure they compare before and after.
//
// A cycle starts an inference on `model` and stops it one of three ways, chosen by i % 3:
//   0: cancelled before the prefill; next_token then answers CANCELLED;
//   1: after the prefill and one decode step (unless the generation already finished);
//   2: from another thread while next_token runs; every call answers OK or CANCELLED.
// It frees the inference in every case. Failures are gtest assertions: a fatal one ends the
// cycle, so callers check HasFatalFailure() between cycles. Test code only, header-only.
#pragma once

#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

#include "capi/tests/capi_fixture.hpp"

namespace llama_worker::capi::testing {

// Bytes of the host heap in use (glibc); 0 when the allocator does not report it (sanitizers).
inline int64_t host_heap_bytes() { return static_cast<int64_t>(mallinfo2().uordblks); }

// One start/cancel cycle on `model` (greedy, up to 64 tokens); see the top of this file.
inline void start_cancel_cycle(cuda_model* model, int i) {
  int32_t token = -1;
  int32_t finished = 0;
  const char* text = nullptr;
  size_t length = 0;
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
      if (!finished)
        ASSERT_LW(LW_STATUS_OK, cuda_inference_next_token(inference, &token, &text, &length, &finished));
      ASSERT_LW(LW_STATUS_OK, cuda_inference_cancel(inference));
      if (!finished) {
        EXPECT_LW(LW_STATUS_CANCELLED,
                  cuda_inference_next_token(inference, &token, &text, &length, &finished));
      }
      break;
    default: {  // from another thread while next_token runs: OK or CANCELLED, never anything else
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
}

}  // namespace llama_worker::capi::testing
