// Host side of launch.cuh's programmatic dependent launch (PDL) choice, for code compiled
// without nvcc: a scope that turns PDL on or off for the launch() calls of one thread.
#pragma once

namespace llama_worker::kernels::cuda {

// While one that is on lives, this thread's launch() calls use PDL (on sm_90+) whatever
// LLAMA_WORKER_PDL says; scopes nest (the innermost decides). A CUDA graph captured inside one keeps
// the programmatic edges.
class ProgrammaticLaunchScope {
 public:
  explicit ProgrammaticLaunchScope(bool on);
  ~ProgrammaticLaunchScope();
  ProgrammaticLaunchScope(const ProgrammaticLaunchScope&) = delete;
  ProgrammaticLaunchScope& operator=(const ProgrammaticLaunchScope&) = delete;

 private:
  int previous_;
};

}  // namespace llama_worker::kernels::cuda
