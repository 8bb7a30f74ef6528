// Shared by the C API's CUDA suites (gpu_capi_test.cpp, gpu_capi_fault_injection_test.cpp): model
// options that pick the CUDA backend, and the device's free memory that their leak checks
// compare before and after. Test code only, header-only; the suites link the CUDA runtime.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>

#include "capi/tests/capi_fixture.hpp"

namespace llama_worker::capi::testing {

// The default model options with the CUDA backend.
inline lw_model_options gpu_options() {
  lw_model_options options = cuda_default_model_options();
  options.backend = LW_BACKEND_CUDA;
  return options;
}

// Free device memory in bytes (cudaMemGetInfo; a failed query is an EXPECT failure).
inline int64_t free_device_bytes() {
  size_t free_bytes = 0, total = 0;
  EXPECT_EQ(cudaMemGetInfo(&free_bytes, &total), cudaSuccess);
  return static_cast<int64_t>(free_bytes);
}

}  // namespace llama_worker::capi::testing
