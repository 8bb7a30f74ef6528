// Test-only entry points of the C API library (C++; not part of llama_worker.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "llama_worker.h"

namespace llama_worker::capi {

// Marks the context failed as a sticky device error would, so tests can check that every later
// call answers LW_STATUS_DEVICE_FAILED and that the free functions still work, without a GPU.
lw_status mark_context_failed_for_testing(cuda_context* context, const std::string& message);

// Points inside the entry points where a test can run code (a free from "another thread" at the
// one moment a race would hit), so that the lifetime races are reproduced every run, not by luck.
enum class TestingPoint {
  kLoadBeforeRegister,   // cuda_load_model: the model is built, its handle not yet registered
  kStartBeforeRegister,  // cuda_inference_start(_tokens): started, the handle not yet registered
  kNextTokenAfterStep,   // cuda_inference_next_token: the step ran, out-parameters not yet written
};

// Installs `hook` at `point` (an empty function removes it). Set it before the calls it watches.
void set_testing_hook(TestingPoint point, std::function<void()> hook);
// Runs the hook installed at `point`, if any (called by the entry points).
void run_testing_hook(TestingPoint point);

// Models loaded afterwards with max_inferences >= 2 get a shared KV cache of this many blocks
// (16 positions each) instead of one that lets every inference reach the full context; 0 restores
// that. Lets a test run the cache full with a tiny model.
void set_testing_kv_blocks(int64_t blocks);
int64_t testing_kv_blocks();

struct RegisteredHandles {
  size_t contexts = 0, models = 0, inferences = 0;
};
// What the registry holds now: a test checks that a race left nothing behind (a leak).
RegisteredHandles registered_handles_for_testing();

}  // namespace llama_worker::capi
