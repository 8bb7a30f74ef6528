// What the bench needs from the device it measures, beyond the InferenceBackend: a name, a way
// to wait for all queued work (so host clocks time finished work), and the device's used memory.
//
// CUDA: initialize() selects the device and creates its context (cudaFree(0)) so that context
// creation is not counted as model load; used_bytes() is total - free from cudaMemGetInfo, which
// counts the whole device (other processes too), so the bench reports deltas from the baseline
// taken right after initialize(). CPU: synchronize() does nothing (forward() returns finished
// work) and there is no device memory to report.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/status.hpp"

namespace llama_worker::bench {

class DeviceProbe {
 public:
  virtual ~DeviceProbe() = default;
  virtual Status initialize() = 0;
  virtual std::string name() const = 0;  // "NVIDIA H100 80GB HBM3", "CPU (16 threads)"
  virtual Status synchronize() = 0;
  virtual std::optional<int64_t> used_bytes() = 0;  // device-wide; nullopt where not applicable
  virtual std::optional<int64_t> total_bytes() = 0;
};

std::unique_ptr<DeviceProbe> make_cpu_probe(int threads);

// kUnsupported when built without the CUDA backend.
Result<std::unique_ptr<DeviceProbe>> make_cuda_probe(int device);

}  // namespace llama_worker::bench
