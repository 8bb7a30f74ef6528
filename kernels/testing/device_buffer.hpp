// Test helper: an owning device buffer of T, filled from and copied back to host vectors.
// Failures surface as Status so tests can ASSERT on them with the CUDA message.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "cuda/cuda_check.hpp"

namespace llama_worker::kernels::testing {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(data_); }

  Status allocate(size_t count) {
    cudaFree(data_);
    data_ = nullptr;
    count_ = count;
    LW_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&data_), (count ? count : 1) * sizeof(T)));
    return poison();
  }
  Status upload(const std::vector<T>& host) {
    LW_TRY(allocate(host.size()));
    LW_CUDA_TRY(cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
    return Status::ok();
  }
  // Every byte 0xFF: NaN for floats, -1 for integers, so unwritten outputs are caught.
  Status poison() {
    LW_CUDA_TRY(cudaMemset(data_, 0xFF, (count_ ? count_ : 1) * sizeof(T)));
    return Status::ok();
  }
  Result<std::vector<T>> download() const {
    std::vector<T> host(count_);
    LW_CUDA_TRY(cudaDeviceSynchronize());
    LW_CUDA_TRY(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  T* get() const { return data_; }
  size_t size() const { return count_; }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
};

}  // namespace llama_worker::kernels::testing
