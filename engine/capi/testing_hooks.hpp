// Test-only entry points of the C API library (C++; not part of llama_worker.h).
#pragma once

#include <string>

#include "llama_worker.h"

namespace llama_worker::capi {

// Marks the context failed as a sticky device error would, so tests can check that every later
// call answers LW_STATUS_DEVICE_FAILED and that the free functions still work, without a GPU.
lw_status mark_context_failed_for_testing(cuda_context* context, const std::string& message);

}  // namespace llama_worker::capi
