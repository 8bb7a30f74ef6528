#include "runtime/cuda/device_memory.hpp"

#include <cuda_runtime_api.h>

#include <atomic>
#include <utility>

#include "cuda/cuda_check.hpp"

namespace llama_worker::runtime::cuda {
namespace {

std::atomic<int64_t> g_attempts{0};
// Attempt number (1-based, as counted by g_attempts) that must fail; 0 = none.
std::atomic<int64_t> g_fail_at{0};
std::atomic<int64_t> g_injected{0};

// True when this attempt is the armed one (disarms it).
bool injected_failure() {
  const int64_t attempt = g_attempts.fetch_add(1, std::memory_order_relaxed) + 1;
  int64_t armed = g_fail_at.load(std::memory_order_relaxed);
  if (armed == 0 || armed != attempt) return false;
  if (!g_fail_at.compare_exchange_strong(armed, 0, std::memory_order_relaxed)) return false;
  g_injected.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// One allocation through `allocator` (cudaMalloc or cudaMallocHost, named `call` in errors), or
// the injected failure when the hook fires. Errors name `what` and the size.
template <typename Allocator>
Result<uint8_t*> hooked_allocation(int64_t bytes, const std::string& what, const char* call,
                                   Allocator allocator) {
  if (bytes <= 0)
    return make_error(ErrorCode::kInvalidArgument,
                      what + ": allocation of " + std::to_string(bytes) + " bytes");
  if (injected_failure()) {
    Error error = kernels::cuda::cuda_error(cudaErrorMemoryAllocation, call, __FILE__, __LINE__);
    error.message =
        what + ": " + std::to_string(bytes) + " bytes: " + error.message + " (injected failure for testing)";
    return error;
  }
  void* data = nullptr;
  const cudaError_t result = allocator(&data, static_cast<size_t>(bytes));
  if (result != cudaSuccess) {
    Error error = kernels::cuda::cuda_error(result, call, __FILE__, __LINE__);
    error.message = what + ": " + std::to_string(bytes) + " bytes: " + error.message;
    return error;
  }
  return static_cast<uint8_t*>(data);
}

}  // namespace

void fail_nth_device_allocation_for_testing(int64_t n) {
  g_fail_at.store(n > 0 ? g_attempts.load(std::memory_order_relaxed) + n : 0, std::memory_order_relaxed);
}

int64_t device_allocation_attempts_for_testing() { return g_attempts.load(std::memory_order_relaxed); }

int64_t injected_device_allocation_failures_for_testing() {
  return g_injected.load(std::memory_order_relaxed);
}

DeviceAllocation::DeviceAllocation(DeviceAllocation&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)),
      what_(std::move(other.what_)) {}

DeviceAllocation& DeviceAllocation::operator=(DeviceAllocation&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    what_ = std::move(other.what_);
  }
  return *this;
}

DeviceAllocation::~DeviceAllocation() { release(); }

void DeviceAllocation::release() {
  if (data_ != nullptr) cudaFree(data_);
  data_ = nullptr;
  bytes_ = 0;
}

Result<DeviceAllocation> DeviceAllocation::allocate(int64_t bytes, std::string what) {
  LW_ASSIGN_OR_RETURN(uint8_t * data,
                      hooked_allocation(bytes, what, "cudaMalloc",
                                        [](void** out, size_t size) { return cudaMalloc(out, size); }));
  DeviceAllocation allocation;
  allocation.data_ = data;
  allocation.bytes_ = bytes;
  allocation.what_ = std::move(what);
  return allocation;
}

PinnedHostBuffer::PinnedHostBuffer(PinnedHostBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

PinnedHostBuffer& PinnedHostBuffer::operator=(PinnedHostBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

PinnedHostBuffer::~PinnedHostBuffer() { release(); }

void PinnedHostBuffer::release() {
  if (data_ != nullptr) cudaFreeHost(data_);
  data_ = nullptr;
  bytes_ = 0;
}

Result<PinnedHostBuffer> PinnedHostBuffer::allocate(int64_t bytes, const std::string& what) {
  LW_ASSIGN_OR_RETURN(uint8_t * data,
                      hooked_allocation(bytes, what, "cudaMallocHost",
                                        [](void** out, size_t size) { return cudaMallocHost(out, size); }));
  PinnedHostBuffer buffer;
  buffer.data_ = data;
  buffer.bytes_ = bytes;
  return buffer;
}

Result<ResidencyReport> check_residency(const std::vector<const DeviceAllocation*>& allocations) {
  ResidencyReport report;
  for (const DeviceAllocation* allocation : allocations) {
    if (allocation == nullptr || allocation->data() == nullptr) continue;
    ++report.allocations;
    bool device = true;
    for (const uint8_t* probe : {allocation->data(), allocation->data() + allocation->bytes() - 1}) {
      cudaPointerAttributes attributes{};
      LW_CUDA_TRY(cudaPointerGetAttributes(&attributes, probe));
      if (attributes.type != cudaMemoryTypeDevice) device = false;
    }
    if (device) {
      report.device_bytes += allocation->bytes();
    } else {
      report.non_device.push_back(allocation->what());
    }
  }
  return report;
}

}  // namespace llama_worker::runtime::cuda
