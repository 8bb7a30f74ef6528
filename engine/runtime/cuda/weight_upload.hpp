// Host-to-device upload of weights straight from the file's mapping, through two pinned staging
// buffers of a fixed chunk size (1 MiB by default): the host copies chunk i + 1 into one buffer
// while the DMA engine moves chunk i from the other, so reading and copying overlap. Nothing
// else is allocated on the host; pageable memory never goes to cudaMemcpy directly.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>

#include "core/status.hpp"

namespace llama_worker::runtime::cuda {

class StagedUploader {
 public:
  StagedUploader() = default;
  StagedUploader(const StagedUploader&) = delete;
  StagedUploader& operator=(const StagedUploader&) = delete;
  ~StagedUploader();

  // chunk_bytes: staging buffer size (>= 4 KiB); on_progress(bytes_done) after each chunk, or null.
  Status init(int64_t chunk_bytes, cudaStream_t stream, std::function<void(int64_t)> on_progress = nullptr);
  // Queues the copy of `bytes` from host `source` (any memory) to `destination` (device).
  Status upload(void* destination, const void* source, int64_t bytes);
  // Waits for every queued copy.
  Status finish();
  int64_t bytes_uploaded() const { return total_; }

 private:
  uint8_t* staging_[2] = {nullptr, nullptr};
  cudaEvent_t done_[2] = {nullptr, nullptr};
  bool pending_[2] = {false, false};
  int next_ = 0;
  int64_t chunk_bytes_ = 0;
  int64_t total_ = 0;
  cudaStream_t stream_ = nullptr;
  std::function<void(int64_t)> on_progress_;
};

}  // namespace llama_worker::runtime::cuda
