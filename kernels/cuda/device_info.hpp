// Device discovery: what the engine needs to know about each CUDA device before it plans.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace llama_worker::kernels::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;  // e.g. 9 for sm_90
  int compute_minor = 0;
  int multiprocessor_count = 0;  // SMs
  int64_t total_memory = 0;      // bytes
  int64_t free_memory = 0;       // bytes, when queried
  int64_t l2_cache_bytes = 0;
};

// All visible devices; an empty list (not an error) when the driver reports none.
Result<std::vector<DeviceInfo>> list_devices();

}  // namespace llama_worker::kernels::cuda
