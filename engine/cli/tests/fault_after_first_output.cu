// LD_PRELOAD shim for the GPU CLI test gpu_cli.sticky_fault (cli_gpu_faults.sh): an unrecoverable
// CUDA error in the middle of `llama-worker generate`, without a debug hook in the CLI itself.
//
// It interposes fflush: the first time the CLI flushes stdout (after printing the first token's
// text) it launches a kernel that stores to an invalid address on device 0 and waits for it. The
// kernel runs in the device's primary context, the one the CLI's CUDA backend uses, so that
// context is poisoned (cudaErrorIllegalAddress is sticky) and the CLI's next forward pass fails.
// The test then checks that the CLI reports the error and exits 1 promptly instead of hanging or
// printing garbage. Test-only: built as a MODULE library, never linked into anything.
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <cstdio>

namespace {

__global__ void store_to_invalid_address(int* pointer) { *pointer = 42; }

std::atomic<bool> g_fired{false};

}  // namespace

extern "C" int fflush(FILE* stream) {
  using Real = int (*)(FILE*);
  static const Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "fflush"));
  if (stream == stdout && !g_fired.exchange(true)) {
    if (real != nullptr) real(stream);  // the first token's text reaches the test first
    store_to_invalid_address<<<1, 1>>>(reinterpret_cast<int*>(uintptr_t{8}));
    const cudaError_t result = cudaDeviceSynchronize();
    std::fprintf(stderr, "fault shim: faulting kernel launched on device 0: %s\n", cudaGetErrorName(result));
  }
  return real != nullptr ? real(stream) : 0;
}
