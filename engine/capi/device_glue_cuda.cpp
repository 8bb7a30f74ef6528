// device_glue.hpp over the CUDA runtime and runtime::cuda::CudaBackend.
#include <cuda_runtime_api.h>

#include "capi/device_glue.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/tensor_core_matmul.cuh"
#include "runtime/cuda/cuda_backend.hpp"

namespace llama_worker::capi {

bool built_with_cuda() { return true; }

Result<int> device_count(std::string* why_none) {
  int count = 0;
  const cudaError_t result = cudaGetDeviceCount(&count);
  if (result == cudaErrorNoDevice || result == cudaErrorInsufficientDriver) {
    // No driver or no device: not a failure of the call, just nothing to use.
    if (why_none != nullptr)
      *why_none = std::string(cudaGetErrorName(result)) + ": " + cudaGetErrorString(result);
    cudaGetLastError();
    return 0;
  }
  LW_CUDA_TRY(result);  // anything else (a sticky error) is a device error
  if (count == 0 && why_none != nullptr) *why_none = "the driver reports 0 devices";
  return count;
}

Status init_device(int device) {
  kernels::cuda::preload_tensor_core_library();  // overlaps the context creation below
  LW_CUDA_TRY(cudaSetDevice(device));
  LW_CUDA_TRY(cudaFree(nullptr));  // creates the primary context now, so its failure shows here
  return Status::ok();
}

Status select_device(int device) {
  LW_CUDA_TRY(cudaSetDevice(device));
  return Status::ok();
}

Result<std::unique_ptr<runtime::InferenceBackend>> create_cuda_backend(const gguf::File& file,
                                                                       const CudaLoadOptions& options) {
  runtime::cuda::CudaBackendOptions cuda;
  cuda.device = options.device;
  cuda.context = options.context;
  cuda.vram_budget_bytes = options.vram_budget_bytes;
  cuda.upload_chunk_bytes = options.upload_chunk_bytes;
  cuda.show_progress = false;  // a library never draws on the caller's terminal
  auto backend = runtime::cuda::CudaBackend::create(file, cuda);
  if (!backend) return backend.error();
  return std::unique_ptr<runtime::InferenceBackend>(std::move(*backend));
}

Result<Residency> check_cuda_residency(const runtime::InferenceBackend& backend) {
  const auto& cuda = static_cast<const runtime::cuda::CudaBackend&>(backend);
  LW_ASSIGN_OR_RETURN(runtime::cuda::ResidencyReport report, cuda.check_vram_residency());
  Residency residency;
  residency.device_bytes = report.device_bytes;
  residency.allocations = report.allocations;
  residency.non_device = std::move(report.non_device);
  return residency;
}

std::optional<std::string> sticky_device_error(int device) {
  cudaGetLastError();  // clears a non-sticky error left by the failed call
  if (cudaSetDevice(device) != cudaSuccess) cudaGetLastError();
  const cudaError_t first = cudaDeviceSynchronize();
  if (first == cudaSuccess) return std::nullopt;
  const cudaError_t second = cudaDeviceSynchronize();
  if (second == cudaSuccess) return std::nullopt;  // it went away: not sticky
  return std::string(cudaGetErrorName(second)) + ": " + cudaGetErrorString(second);
}

}  // namespace llama_worker::capi
