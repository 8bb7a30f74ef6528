#include "runtime/cuda/weight_upload.hpp"

#include <cstring>

#include "cuda/cuda_check.hpp"

namespace llama_worker::runtime::cuda {

StagedUploader::~StagedUploader() {
  for (int i = 0; i < 2; ++i) {
    if (pending_[i]) cudaEventSynchronize(done_[i]);
    if (done_[i] != nullptr) cudaEventDestroy(done_[i]);
    if (staging_[i] != nullptr) cudaFreeHost(staging_[i]);
  }
}

Status StagedUploader::init(int64_t chunk_bytes, cudaStream_t stream, std::function<void(int64_t)> on_progress) {
  if (chunk_bytes < 4096) {
    return make_error(ErrorCode::kInvalidArgument, "upload chunk of " + std::to_string(chunk_bytes) + " bytes is below 4 KiB");
  }
  chunk_bytes_ = chunk_bytes;
  stream_ = stream;
  on_progress_ = std::move(on_progress);
  for (int i = 0; i < 2; ++i) {
    LW_CUDA_TRY(cudaMallocHost(reinterpret_cast<void**>(&staging_[i]), static_cast<size_t>(chunk_bytes)));
    LW_CUDA_TRY(cudaEventCreateWithFlags(&done_[i], cudaEventDisableTiming));
  }
  return Status::ok();
}

Status StagedUploader::upload(void* destination, const void* source, int64_t bytes) {
  auto* out = static_cast<uint8_t*>(destination);
  const auto* in = static_cast<const uint8_t*>(source);
  for (int64_t offset = 0; offset < bytes; offset += chunk_bytes_) {
    const int64_t size = bytes - offset < chunk_bytes_ ? bytes - offset : chunk_bytes_;
    const int slot = next_;
    next_ ^= 1;
    if (pending_[slot]) LW_CUDA_TRY(cudaEventSynchronize(done_[slot]));  // its previous copy has left the buffer
    std::memcpy(staging_[slot], in + offset, static_cast<size_t>(size));
    LW_CUDA_TRY(cudaMemcpyAsync(out + offset, staging_[slot], static_cast<size_t>(size), cudaMemcpyHostToDevice, stream_));
    LW_CUDA_TRY(cudaEventRecord(done_[slot], stream_));
    pending_[slot] = true;
    total_ += size;
    if (on_progress_) on_progress_(total_);
  }
  return Status::ok();
}

Status StagedUploader::finish() {
  for (int i = 0; i < 2; ++i) {
    if (pending_[i]) LW_CUDA_TRY(cudaEventSynchronize(done_[i]));
    pending_[i] = false;
  }
  return Status::ok();
}

}  // namespace llama_worker::runtime::cuda
