// CPU and CUDA device probes (see device_probe.hpp). The CUDA one exists only when the CUDA
// backend was built (LLAMA_WORKER_HAS_CUDA_BACKEND, which also brings the CUDA runtime).
#include "e2e/device_probe.hpp"

#include <thread>

#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
#include <cuda_runtime_api.h>

#include "cuda/tensor_core_matmul.cuh"
#endif

namespace llama_worker::bench {

namespace {

class CpuProbe final : public DeviceProbe {
 public:
  explicit CpuProbe(int threads)
      : threads_(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency())) {}
  Status initialize() override { return Status::ok(); }
  std::string name() const override { return "CPU (" + std::to_string(threads_) + " threads)"; }
  Status synchronize() override { return Status::ok(); }
  std::optional<int64_t> used_bytes() override { return std::nullopt; }
  std::optional<int64_t> total_bytes() override { return std::nullopt; }

 private:
  int threads_;
};

#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
Error cuda_failure(const char* what, int device, cudaError_t result) {
  return make_error(ErrorCode::kDeviceError, std::string(what) + " failed on CUDA device " +
                                                 std::to_string(device) + ": " + cudaGetErrorString(result) +
                                                 " (" + cudaGetErrorName(result) + ")");
}

class CudaProbe final : public DeviceProbe {
 public:
  explicit CudaProbe(int device) : device_(device) {}

  Status initialize() override {
    int count = 0;
    if (const cudaError_t result = cudaGetDeviceCount(&count); result != cudaSuccess) {
      return cuda_failure("cudaGetDeviceCount", device_, result);
    }
    if (device_ < 0 || device_ >= count) {
      return make_error(ErrorCode::kNotFound, "CUDA device " + std::to_string(device_) + " does not exist (" +
                                                  std::to_string(count) + " visible)");
    }
    kernels::cuda::preload_tensor_core_library();  // as cuda_init does: overlaps the context creation
    if (const cudaError_t result = cudaSetDevice(device_); result != cudaSuccess)
      return cuda_failure("cudaSetDevice", device_, result);
    if (const cudaError_t result = cudaFree(nullptr); result != cudaSuccess)
      return cuda_failure("context creation", device_, result);
    cudaDeviceProp properties{};
    if (const cudaError_t result = cudaGetDeviceProperties(&properties, device_); result != cudaSuccess) {
      return cuda_failure("cudaGetDeviceProperties", device_, result);
    }
    name_ = properties.name;
    return Status::ok();
  }
  std::string name() const override {
    return name_.empty() ? "CUDA device " + std::to_string(device_) : name_;
  }
  Status synchronize() override {
    if (const cudaError_t result = cudaDeviceSynchronize(); result != cudaSuccess) {
      return cuda_failure("cudaDeviceSynchronize", device_, result);
    }
    return Status::ok();
  }
  std::optional<int64_t> used_bytes() override {
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) return std::nullopt;
    return static_cast<int64_t>(total - free);
  }
  std::optional<int64_t> total_bytes() override {
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) return std::nullopt;
    return static_cast<int64_t>(total);
  }

 private:
  int device_;
  std::string name_;
};
#endif

}  // namespace

std::unique_ptr<DeviceProbe> make_cpu_probe(int threads) { return std::make_unique<CpuProbe>(threads); }

Result<std::unique_ptr<DeviceProbe>> make_cuda_probe([[maybe_unused]] int device) {
#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
  return std::unique_ptr<DeviceProbe>(std::make_unique<CudaProbe>(device));
#else
  return make_error(
      ErrorCode::kUnsupported,
      "backend 'cuda' is not available: llama-worker was built without CUDA (no nvcc at configure time)");
#endif
}

}  // namespace llama_worker::bench
