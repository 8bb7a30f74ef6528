#include "cuda/cuda_check.hpp"

#include <string>

namespace llama_worker::kernels::cuda {

Error cuda_error(cudaError_t result, const char* statement, const char* file, int line) {
  int device = -1;
  // The failed call may have left a sticky error; cudaGetDevice does not clear or change it.
  if (cudaGetDevice(&device) != cudaSuccess) device = -1;
  const ErrorCode code =
      result == cudaErrorMemoryAllocation ? ErrorCode::kOutOfMemory : ErrorCode::kDeviceError;
  return make_error(code, std::string(statement) + " failed at " + file + ":" + std::to_string(line) +
                              " on device " + std::to_string(device) + ": " + cudaGetErrorString(result) +
                              " (" + cudaGetErrorName(result) + ")");
}

}  // namespace llama_worker::kernels::cuda
