// Device memory the CUDA backend owns: plain cudaMalloc allocations only (no managed, mapped or
// host memory), each freed by its owner's destructor, so a failed load releases everything it
// took. The residency check asks the driver about every allocation.
//
// Pinned host staging buffers (PinnedHostBuffer: cudaMallocHost) live here too, so that every
// allocation the backend makes goes through one place.
//
// Fault injection (tests only, issue 9): fail_nth_device_allocation_for_testing(n) makes the n-th
// DeviceAllocation::allocate or PinnedHostBuffer::allocate from now on fail as cudaMalloc /
// cudaMallocHost would when out of memory (kOutOfMemory, message says "injected"), without
// calling the CUDA allocator. Every allocate attempt is
// counted (device_allocation_attempts_for_testing) so a test can also prove that a phase (session
// start, a decode step) allocates nothing. Cost when unused: one relaxed atomic increment and one
// relaxed load per allocation (three per model load).
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

// One cudaMallocHost allocation (page-locked host memory for DMA), moved, never copied.
class PinnedHostBuffer {
 public:
  PinnedHostBuffer() = default;
  PinnedHostBuffer(PinnedHostBuffer&& other) noexcept;
  PinnedHostBuffer& operator=(PinnedHostBuffer&& other) noexcept;
  PinnedHostBuffer(const PinnedHostBuffer&) = delete;
  PinnedHostBuffer& operator=(const PinnedHostBuffer&) = delete;
  ~PinnedHostBuffer();

  static Result<PinnedHostBuffer> allocate(int64_t bytes, const std::string& what);

  uint8_t* data() const { return data_; }
  int64_t bytes() const { return bytes_; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  int64_t bytes_ = 0;
};

struct ResidencyReport {
  int64_t device_bytes = 0;             // bytes in allocations the driver reports as device memory
  int64_t allocations = 0;              // allocations checked
  std::vector<std::string> non_device;  // allocations that are not plain device memory (must be empty)
};

// Arms the injection: the n-th allocate call from now on fails (1 = the next one); 0 disarms.
// One shot: after it fires, allocations succeed again. Process-wide, thread-safe.
void fail_nth_device_allocation_for_testing(int64_t n);
// DeviceAllocation::allocate and PinnedHostBuffer::allocate calls made in this process so far
// (successful or not).
int64_t device_allocation_attempts_for_testing();
// Injected failures so far.
int64_t injected_device_allocation_failures_for_testing();

// Asks cudaPointerGetAttributes about the first and last byte of every allocation.
Result<ResidencyReport> check_residency(const std::vector<const DeviceAllocation*>& allocations);

}  // namespace llama_worker::runtime::cuda
