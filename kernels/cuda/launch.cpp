#include "cuda/launch_scope.hpp"

#include <cuda_runtime_api.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace llama_worker::kernels::cuda {
namespace {

thread_local int t_scope = -1;  // -1 no scope, 0 a scope that is off, 1 on

}  // namespace

ProgrammaticLaunchScope::ProgrammaticLaunchScope(bool on) : previous_(t_scope) { t_scope = on ? 1 : 0; }

ProgrammaticLaunchScope::~ProgrammaticLaunchScope() { t_scope = previous_; }

bool pdl_enabled() {
  static const bool allowed = [] {
    // Off unless asked for: measured slower on the H100 for both model shapes (README, Performance).
    const char* setting = std::getenv("LLAMA_WORKER_PDL");
    return setting != nullptr && std::strcmp(setting, "1") == 0;
  }();
  if (!(t_scope == 1 || (t_scope == -1 && allowed))) return false;
  static std::array<std::atomic<int>, 64> cached{};  // 0 unknown, 1 no, 2 yes
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= static_cast<int>(cached.size()))
    return false;
  int state = cached[static_cast<size_t>(device)].load(std::memory_order_relaxed);
  if (state == 0) {
    int major = 0;
    state =
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess && major >= 9
            ? 2
            : 1;
    cached[static_cast<size_t>(device)].store(state, std::memory_order_relaxed);
  }
  return state == 2;
}

}  // namespace llama_worker::kernels::cuda
