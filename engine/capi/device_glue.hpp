// The C API's only contact with CUDA. Two implementations: device_glue_cuda.cpp (built when CUDA
// is found; uses runtime::cuda::CudaBackend) and device_glue_none.cpp (every function answers
// "built without CUDA"), so the rest of the C API compiles the same way in both builds.
//
// The current device is per host thread in CUDA, so every entry that runs device work first
// calls select_device() with the context's device.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "gguf/file.hpp"
#include "runtime/backend.hpp"

namespace llama_worker::capi {

// True in a build that links the CUDA backend.
bool built_with_cuda();

// Devices the driver reports; 0 (not an error, reason in why_none) when there are none or no
// driver; kDeviceError for any other failure (e.g. a sticky error); kUnsupported without CUDA.
Result<int> device_count(std::string* why_none);

// Makes `device` current on this thread and creates its primary context (cudaFree(0)).
Status init_device(int device);
// Makes `device` current on this thread.
Status select_device(int device);

struct CudaLoadOptions {
  int device = 0;
  int64_t context = 0;            // KV positions; 0 = backend default
  int64_t vram_budget_bytes = 0;  // 0 = free memory only
  int64_t upload_chunk_bytes = 1 << 20;
};

Result<std::unique_ptr<runtime::InferenceBackend>> create_cuda_backend(const gguf::File& file,
                                                                       const CudaLoadOptions& options);

struct Residency {
  int64_t device_bytes = 0;
  int64_t allocations = 0;
  std::vector<std::string> non_device;  // names of allocations that are not plain device memory
};

// `backend` must come from create_cuda_backend.
Result<Residency> check_cuda_residency(const runtime::InferenceBackend& backend);

// After a device error: the error text when the device is poisoned for the process (a sticky
// error that cudaDeviceSynchronize reports twice in a row), nullopt when it is still usable
// (a non-sticky error is cleared here).
std::optional<std::string> sticky_device_error(int device);

}  // namespace llama_worker::capi
