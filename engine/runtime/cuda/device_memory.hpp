// Device memory the CUDA backend owns: plain cudaMalloc allocations only (no managed, mapped or
// host memory), each freed by its owner's destructor, so a failed load releases everything it
// took. The residency check asks the driver about every allocation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace llama_worker::runtime::cuda {

// One cudaMalloc allocation, moved, never copied.
class DeviceAllocation {
 public:
  DeviceAllocation() = default;
  DeviceAllocation(DeviceAllocation&& other) noexcept;
  DeviceAllocation& operator=(DeviceAllocation&& other) noexcept;
  DeviceAllocation(const DeviceAllocation&) = delete;
  DeviceAllocation& operator=(const DeviceAllocation&) = delete;
  ~DeviceAllocation();

  // `what` names the allocation in errors and residency reports ("weights", "kv cache").
  static Result<DeviceAllocation> allocate(int64_t bytes, std::string what);

  uint8_t* data() const { return data_; }
  int64_t bytes() const { return bytes_; }
  const std::string& what() const { return what_; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  int64_t bytes_ = 0;
  std::string what_;
};

struct ResidencyReport {
  int64_t device_bytes = 0;     // bytes in allocations the driver reports as device memory
  int64_t allocations = 0;      // allocations checked
  std::vector<std::string> non_device;  // allocations that are not plain device memory (must be empty)
};

// Asks cudaPointerGetAttributes about the first and last byte of every allocation.
Result<ResidencyReport> check_residency(const std::vector<const DeviceAllocation*>& allocations);

}  // namespace llama_worker::runtime::cuda
