// device_glue.hpp for a build without CUDA: every device entry is a clear kUnsupported error;
// the C API maps it to LW_STATUS_NOT_BUILT_WITH_CUDA.
#include "capi/device_glue.hpp"

namespace llama_worker::capi {
namespace {

Error not_built() {
  return make_error(ErrorCode::kUnsupported,
                    "llama-worker was built without CUDA (no nvcc at configure time): only LW_DEVICE_CPU "
                    "contexts and LW_BACKEND_CPU models are available");
}

}  // namespace

bool built_with_cuda() { return false; }
Result<int> device_count(std::string*) { return not_built(); }
Status init_device(int) { return not_built(); }
Status select_device(int) { return not_built(); }
Result<std::unique_ptr<runtime::InferenceBackend>> create_cuda_backend(const gguf::File&,
                                                                       const CudaLoadOptions&) {
  return not_built();
}
Result<Residency> check_cuda_residency(const runtime::InferenceBackend&) { return not_built(); }
std::optional<std::string> sticky_device_error(int) { return std::nullopt; }

}  // namespace llama_worker::capi
