// Host-to-device upload of the weights straight from the file's mapping. upload() only queues a
// copy; finish() runs every queued copy with `workers` threads. Each worker has its own stream and
// two pinned staging buffers of chunk_bytes: it copies chunk i + 1 from the mapping into one buffer
// while the DMA engine moves chunk i from the other, and several workers keep several host cores
// reading the page cache (one core copies only a few GB/s from a mapping; the bus takes more).
// Workers take chunks from a shared counter; destinations never overlap, so the order in which
// chunks land does not matter. Pageable memory never goes to cudaMemcpy directly.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/status.hpp"

namespace llama_worker::runtime::cuda {

class StagedUploader {
 public:
  StagedUploader() = default;
  StagedUploader(const StagedUploader&) = delete;
  StagedUploader& operator=(const StagedUploader&) = delete;

  // device: the CUDA device the destinations live on; chunk_bytes: staging buffer size (>= 4 KiB);
  // workers: copy threads (>= 1); on_progress(bytes_done), from any worker (serialised), or null.
  Status init(int device, int64_t chunk_bytes, int workers,
              std::function<void(int64_t)> on_progress = nullptr);
  // Queues the copy of `bytes` from host `source` (must stay valid until finish()) to device
  // `destination`.
  Status upload(void* destination, const void* source, int64_t bytes);
  // Copies everything queued, then waits for the device. The first error of any worker is returned.
  Status finish();
  int64_t bytes_uploaded() const { return total_; }

 private:
  struct Copy {
    void* destination;
    const void* source;
    int64_t bytes;
  };
  int device_ = 0;
  int64_t chunk_bytes_ = 0;
  int workers_ = 1;
  int64_t total_ = 0;
  std::vector<Copy> queued_;
  std::function<void(int64_t)> on_progress_;
};

// Copy threads for a load: up to 4, never more than the host's cores.
int default_upload_workers();

}  // namespace llama_worker::runtime::cuda
