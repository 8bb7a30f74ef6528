#include "runtime/cuda/weight_upload.hpp"

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "cuda/cuda_check.hpp"
#include "runtime/cuda/device_memory.hpp"

namespace llama_worker::runtime::cuda {
namespace {

// A piece of one queued copy, at most chunk_bytes long.
struct Chunk {
  uint8_t* destination;
  const uint8_t* source;
  int64_t bytes;
};

// One worker: its stream, two staging buffers, chunks taken from `next` until none are left or
// another worker failed.
class UploadWorker {
 public:
  Status run(int device, int64_t chunk_bytes, const std::vector<Chunk>& chunks, std::atomic<size_t>& next,
             std::atomic<bool>& failed, const std::function<void(int64_t)>& on_chunk) {
    LW_CUDA_TRY(cudaSetDevice(device));
    LW_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    for (int i = 0; i < 2; ++i) {
      LW_ASSIGN_OR_RETURN(staging_[i],
                          PinnedHostBuffer::allocate(chunk_bytes, "weight upload staging buffer"));
      LW_CUDA_TRY(cudaEventCreateWithFlags(&done_[i], cudaEventDisableTiming));
    }
    int slot = 0;
    for (size_t index = next.fetch_add(1); index < chunks.size() && !failed.load();
         index = next.fetch_add(1)) {
      const Chunk& chunk = chunks[index];
      // Its previous copy has left the buffer (an event never recorded completes at once).
      LW_CUDA_TRY(cudaEventSynchronize(done_[slot]));
      std::memcpy(staging_[slot].data(), chunk.source, static_cast<size_t>(chunk.bytes));
      LW_CUDA_TRY(cudaMemcpyAsync(chunk.destination, staging_[slot].data(), static_cast<size_t>(chunk.bytes),
                                  cudaMemcpyHostToDevice, stream_));
      LW_CUDA_TRY(cudaEventRecord(done_[slot], stream_));
      slot ^= 1;
      on_chunk(chunk.bytes);
    }
    LW_CUDA_TRY(cudaStreamSynchronize(stream_));
    return Status::ok();
  }

  ~UploadWorker() {
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);  // no copy may outlive the staging buffers
    for (cudaEvent_t event : done_) {
      if (event != nullptr) cudaEventDestroy(event);
    }
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

 private:
  cudaStream_t stream_ = nullptr;
  PinnedHostBuffer staging_[2];
  cudaEvent_t done_[2] = {nullptr, nullptr};
};

}  // namespace

int default_upload_workers() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores < 4 ? cores : 4);
}

Status StagedUploader::init(int device, int64_t chunk_bytes, int workers,
                            std::function<void(int64_t)> on_progress) {
  if (chunk_bytes < 4096) {
    return make_error(ErrorCode::kInvalidArgument,
                      "upload chunk of " + std::to_string(chunk_bytes) + " bytes is below 4 KiB");
  }
  if (workers < 1) return make_error(ErrorCode::kInvalidArgument, "upload needs at least one worker");
  device_ = device;
  chunk_bytes_ = chunk_bytes;
  workers_ = workers;
  on_progress_ = std::move(on_progress);
  return Status::ok();
}

Status StagedUploader::upload(void* destination, const void* source, int64_t bytes) {
  if (chunk_bytes_ == 0) return make_error(ErrorCode::kInternal, "weight upload: init() was not called");
  if (bytes < 0 || (bytes > 0 && (destination == nullptr || source == nullptr))) {
    return make_error(ErrorCode::kInvalidArgument, "weight upload: null pointer or negative size");
  }
  if (bytes > 0) queued_.push_back({destination, source, bytes});
  return Status::ok();
}

Status StagedUploader::finish() {
  std::vector<Chunk> chunks;
  for (const Copy& copy : queued_) {
    for (int64_t offset = 0; offset < copy.bytes; offset += chunk_bytes_) {
      chunks.push_back({static_cast<uint8_t*>(copy.destination) + offset,
                        static_cast<const uint8_t*>(copy.source) + offset,
                        copy.bytes - offset < chunk_bytes_ ? copy.bytes - offset : chunk_bytes_});
    }
  }
  queued_.clear();
  if (chunks.empty()) return Status::ok();
  const int workers =
      static_cast<int>(chunks.size() < static_cast<size_t>(workers_) ? chunks.size() : workers_);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex progress_mutex;
  auto on_chunk = [&](int64_t bytes) {
    std::lock_guard<std::mutex> lock(progress_mutex);
    total_ += bytes;
    if (on_progress_) on_progress_(total_);
  };
  std::vector<Status> results(static_cast<size_t>(workers), Status::ok());  // a worker never started stays ok
  auto work = [&](int w) {
    UploadWorker worker;
    results[static_cast<size_t>(w)] = worker.run(device_, chunk_bytes_, chunks, next, failed, on_chunk);
    if (!results[static_cast<size_t>(w)]) failed.store(true);
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < workers; ++w) {
    try {
      threads.emplace_back(work, w);
    } catch (const std::system_error&) {
      break;  // no thread to be had: the workers started so far take every chunk
    }
  }
  work(0);  // the calling thread is worker 0
  for (std::thread& thread : threads) thread.join();
  for (const Status& result : results) LW_TRY(result);
  return Status::ok();
}

}  // namespace llama_worker::runtime::cuda
