// The CUDA backend's memory plan, computed before anything is allocated: weights as stored
// (plus fp32 norm/bias vectors), the fp16 KV cache for the requested context, and the scratch
// activations of one batch. check_memory_plan compares it with the device's free memory and an
// optional budget and, when it does not fit, says how much is needed, how much is free, and the
// largest context that would fit.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.hpp"
#include "model/llama_inference_adapter.hpp"

namespace llama_worker::runtime::cuda {

inline constexpr int64_t kAllocationAlignment = 256;  // every sub-buffer starts at this alignment
inline constexpr int64_t kLogitsRowsPerPass = 16;     // final-logits rows computed at once
// The batched step's logits rows per pass (one pass for 64 streams; its own buffers, made with the
// paged pool, so the single-inference plan does not grow).
inline constexpr int64_t kBatchedLogitsRows = 64;
// Batched passes of up to this many rows replay a CUDA graph of their layers (one per row count:
// the decode steps of up to 64 streams and small prefill chunks); larger passes launch plainly.
inline constexpr int64_t kBatchedGraphRows = 64;

struct MemoryPlan {
  int64_t weight_bytes = 0;           // matrices as stored + fp32 vectors, aligned
  int64_t kv_bytes_per_position = 0;  // layers * 2 (K, V) * kv_width * 2 bytes (fp16)
  int64_t context = 0;                // KV cache positions
  int64_t max_batch = 0;              // tokens per forward pass on the device
  int64_t scratch_bytes = 0;          // activations of one batch + logits of kLogitsRowsPerPass rows
  int64_t reserve_bytes = 0;          // kept free for the CUDA context's own needs

  int64_t kv_bytes() const { return kv_bytes_per_position * context; }
  int64_t total_bytes() const { return weight_bytes + kv_bytes() + scratch_bytes + reserve_bytes; }
};

inline int64_t align_up(int64_t bytes) {
  return (bytes + kAllocationAlignment - 1) / kAllocationAlignment * kAllocationAlignment;
}

// Halves of fp16 weight tile the tensor-core prefill path dequantizes into at most (24 MiB: a
// whole multiple of 128 rows of every Phi-3 and Qwen2.5 product, e.g. 4,096 rows of 3,072).
inline constexpr int64_t kTensorCoreTileElements = int64_t{12} << 20;

// Workspace handed to cuBLAS (instead of the library's own allocation).
inline constexpr int64_t kCublasWorkspaceBytes = int64_t{4} << 20;

// `tensor_core_prefill` adds the fp16 scratch of the tensor-core prefill path: one weight tile
// and the batch's activations at the widest product input, and cuBLAS's workspace.
Result<MemoryPlan> plan_memory(const model::LlamaInferenceAdapter& adapter, int64_t context,
                               int64_t max_batch, bool tensor_core_prefill = false);

// The activation regions of a batch, floats per token, in scratch order. Buffers whose lives do
// not overlap share a region: the normed input with the attention output, the Q/K/V rows with
// the gate/up rows (SwiGLU writes over the gate half in place).
struct ActivationLayout {
  int64_t residual = 0;             // x
  int64_t normed_or_attention = 0;  // max(embedding width, q width)
  int64_t qkv_or_gate_up = 0;       // max(q + 2 kv width, 2 x feed-forward width)
  int64_t floats_per_token() const { return residual + normed_or_attention + qkv_or_gate_up; }
};
ActivationLayout activation_layout(const model::ModelConfig& config);

// The widest input of any layer product (embedding, attention output or feed-forward width).
int64_t widest_product_input(const model::ModelConfig& config);

// Bytes as MiB with one decimal ("397.8"), as the memory messages print them.
std::string mib(int64_t bytes);

// available = min(free_bytes, budget_bytes when > 0). Fails with kOutOfMemory:
// "model 'x' needs 1234.5 MiB (weights 397.8, KV cache for 4096 positions 48.0, scratch 30.1, reserve 64.0)
//  but 800.0 MiB are available (free 800.0 MiB, budget none); the largest context that fits is 1024"
Status check_memory_plan(const MemoryPlan& plan, const std::string& model_name, int64_t free_bytes,
                         int64_t budget_bytes);

}  // namespace llama_worker::runtime::cuda
