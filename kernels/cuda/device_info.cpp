#include "cuda/device_info.hpp"

#include <cuda_runtime_api.h>

#include "cuda/cuda_check.hpp"

namespace llama_worker::kernels::cuda {

Result<std::vector<DeviceInfo>> list_devices() {
  int count = 0;
  const cudaError_t result = cudaGetDeviceCount(&count);
  if (result == cudaErrorNoDevice || result == cudaErrorInsufficientDriver) {
    return std::vector<DeviceInfo>{};
  }
  LW_CUDA_TRY(result);
  std::vector<DeviceInfo> devices;
  for (int index = 0; index < count; ++index) {
    cudaDeviceProp properties{};
    LW_CUDA_TRY(cudaGetDeviceProperties(&properties, index));
    DeviceInfo info;
    info.index = index;
    info.name = properties.name;
    info.compute_major = properties.major;
    info.compute_minor = properties.minor;
    info.multiprocessor_count = properties.multiProcessorCount;
    info.total_memory = static_cast<int64_t>(properties.totalGlobalMem);
    info.l2_cache_bytes = properties.l2CacheSize;
    LW_CUDA_TRY(cudaSetDevice(index));
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    LW_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
    info.free_memory = static_cast<int64_t>(free_bytes);
    devices.push_back(info);
  }
  return devices;
}

}  // namespace llama_worker::kernels::cuda
