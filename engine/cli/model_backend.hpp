// Shared by `generate` and `logits`: the --backend/--threads/--ctx options and opening a model
// on the chosen backend. Header-only so the CLI's command_*.cpp glob needs no change.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <memory>
#include <string>

#include "cli/file_checks.hpp"
#include "cli/number_options.hpp"
#include "core/status.hpp"
#include "gguf/file.hpp"
#include "runtime/cpu_backend.hpp"
#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
#include "cuda/device_info.hpp"
#include "runtime/cuda/cuda_backend.hpp"
#endif

namespace llama_worker::cli {

struct BackendOptions {
  std::string backend =
      "auto";           // auto (cuda when built with CUDA and a device is present, else cpu) | cpu | cuda
  int threads = 0;      // 0 = all cores
  int64_t context = 0;  // 0 = min(model context, runtime::kDefaultContext)
  bool sliding_window = false;      // apply the model's declared sliding window (Phi-3)
  int device = 0;                   // CUDA device index
  double vram_budget_mib = 0;       // 0 = no budget beyond the device's free memory
  int64_t upload_chunk_kib = 1024;  // pinned staging buffer for the host-to-device upload
};

// The default model of `generate`: Qwen2.5-Coder-0.5B-Instruct (qwen2, Q4_K_M mix) as fetched by
// ci/fetch-qwen2.5-coder-0.5b-instruct.sh into $LLAMA_WORKER_CACHE (default ~/.cache/llama-worker).
inline constexpr const char* kDefaultModelFile = "models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";
inline constexpr const char* kDefaultModelFetchScript = "ci/fetch-qwen2.5-coder-0.5b-instruct.sh";

inline std::string cache_directory() {
  if (const char* cache = std::getenv("LLAMA_WORKER_CACHE"); cache != nullptr && *cache != '\0') return cache;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.cache/llama-worker";
}

inline std::string default_model_path() { return cache_directory() + "/" + kDefaultModelFile; }

// Checks a model path before opening it, so each mistake gets its own message: missing
// (kNotFound), a directory or not a regular file (kInvalidArgument).
inline Status check_model_path(const std::string& path) {
  return check_input_file(path, "model", "a GGUF file");
}

inline void add_backend_options(CLI::App& app, BackendOptions& options) {
  app.add_option("--backend", options.backend,
                 "Backend: auto (cuda when a device is present, else cpu), cpu (reference) or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  add_whole_number_option(app, "--threads", options.threads, "CPU worker threads (0 = all cores)", 0,
                          kMaxThreads);
  add_whole_number_option(app, "--ctx", options.context,
                          "KV cache positions (0 = model context, at most 4096)", int64_t{0});
  app.add_flag(
      "--sliding-window", options.sliding_window,
      "Apply the sliding attention window the model declares (Phi-3; off by default, as in llama.cpp)");
  add_whole_number_option(app, "--device", options.device, "CUDA device index (--backend cuda)", 0);
  app.add_option("--vram-budget", options.vram_budget_mib,
                 "Refuse to load when weights + KV cache + scratch exceed this many MiB (--backend cuda)")
      ->check(zero_or_more_number());
  add_whole_number_option(app, "--upload-chunk", options.upload_chunk_kib,
                          "Host-to-device staging chunk in KiB (--backend cuda)", int64_t{4},
                          int64_t{1} << 20);
}

// Said plainly before a CUDA backend's own message (a CUDA call, a source line, "device -1") can
// be reached: no usable device, or no device with that index.
inline Status check_cuda_device_usable([[maybe_unused]] int device) {
#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
  auto devices = kernels::cuda::list_devices();
  if (!devices || devices->empty()) {
    return make_error(ErrorCode::kUnsupported,
                      std::string("backend 'cuda': no CUDA device is usable on this machine (") +
                          (devices ? "the driver reports none" : "the CUDA driver cannot be used") +
                          "); use --backend cpu");
  }
  if (device >= static_cast<int>(devices->size())) {
    return make_error(ErrorCode::kInvalidArgument, "--device " + std::to_string(device) +
                                                       ": this machine has " +
                                                       std::to_string(devices->size()) + " CUDA device(s)");
  }
  return Status::ok();
#else
  return make_error(
      ErrorCode::kUnsupported,
      "backend 'cuda' is not available: llama-worker was built without CUDA (no nvcc at configure time)");
#endif
}

// "auto" becomes "cuda" when the engine was built with CUDA and a device is present, else "cpu".
inline std::string resolved_backend(const BackendOptions& options) {
  if (options.backend != "auto") return options.backend;
#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
  auto devices = kernels::cuda::list_devices();
  if (devices && !devices->empty()) return "cuda";
#endif
  return "cpu";
}

inline Result<std::unique_ptr<runtime::InferenceBackend>> open_backend(const gguf::File& file,
                                                                       const BackendOptions& requested) {
  BackendOptions options = requested;
  options.backend = resolved_backend(requested);
  if (options.backend == "cuda") {
#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
    LW_TRY(check_cuda_device_usable(options.device));
    runtime::cuda::CudaBackendOptions cuda;
    cuda.device = options.device;
    cuda.context = options.context;
    cuda.sliding_window = options.sliding_window;
    cuda.vram_budget_bytes = static_cast<int64_t>(options.vram_budget_mib * 1048576.0);
    cuda.upload_chunk_bytes = options.upload_chunk_kib * 1024;
    cuda.show_progress = true;
    auto backend = runtime::cuda::CudaBackend::create(file, cuda);
    if (!backend) return backend.error();
    return std::unique_ptr<runtime::InferenceBackend>(std::move(*backend));
#else
    return make_error(
        ErrorCode::kUnsupported,
        "backend 'cuda' is not available: llama-worker was built without CUDA (no nvcc at configure time)");
#endif
  }
  runtime::CpuBackendOptions cpu;
  cpu.threads = options.threads;
  cpu.context = options.context;
  cpu.sliding_window = options.sliding_window;
  auto backend = runtime::CpuBackend::create(file, cpu);
  if (!backend) return backend.error();
  return std::unique_ptr<runtime::InferenceBackend>(std::move(*backend));
}

}  // namespace llama_worker::cli
