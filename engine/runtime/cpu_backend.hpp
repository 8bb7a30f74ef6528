// CPU backend: the reference forward pass of the common Llama block (model/llama_inference_adapter.hpp)
// in fp32 over dequantized weights, with a KV cache, causal (and optional sliding-window)
// attention, batched prefill and std::thread parallelism inside the matmuls and attention.
//
// Weights: by default every matmul weight is dequantized once at load into an fp32 copy
// (WeightStorage::kDequantizeAtLoad) when the copies fit the budget; otherwise each row is
// dequantized inside the matmul (kDecodePerRow) from a copy of the stored bytes. Both use the
// same decoder and the same dot product, so they give bit-identical logits (a test checks it).
// Norm and bias vectors are always kept as fp32, the token embedding as stored.
//
// Nothing reads the file's mapping after create() returns: a model file truncated or rewritten
// while a generation runs cannot fault it (SIGBUS on a page past the new end). The copies cost a
// memcpy at load (measured in README.md) and anonymous memory instead of page cache.
//
// KV cache: per layer, K and V of shape (capacity, kv_heads, head_dim) fp32, filled in position
// order; keys are stored after RoPE.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.hpp"
#include "gguf/file.hpp"
#include "model/llama_inference_adapter.hpp"
#include "runtime/backend.hpp"
#include "runtime/batched_backend.hpp"
#include "runtime/kv_pool/kv_pool_plan.hpp"

namespace llama_worker::runtime {

enum class WeightStorage {
  kAuto,              // kDequantizeAtLoad when the fp32 copies fit max_dequantized_bytes
  kDequantizeAtLoad,  // fp32 copies of every matmul weight (fast decode, 4 bytes per weight)
  kDecodePerRow,      // no copies: rows are decoded from the mapping inside each matmul
};

// KV cache positions when the caller does not choose (a 32k-context model would otherwise take
// GiBs of cache for a short chat).
inline constexpr int64_t kDefaultContext = 4096;

struct CpuBackendOptions {
  int threads = 0;      // workers for matmul and attention; 0 = LLAMA_WORKER_CPU_THREADS or all cores
  int64_t context = 0;  // KV cache positions; 0 = min(model context, kDefaultContext)
  WeightStorage weights = WeightStorage::kAuto;
  int64_t max_dequantized_bytes = int64_t{6} << 30;  // kAuto's budget for the fp32 copies
  bool sliding_window = false;  // apply the window the file declares (see architecture.hpp)
};

class CpuBackend final : public InferenceBackend, public BatchedInferenceBackend {
 public:
  // `file` is read only during create(): the backend keeps copies of everything it needs.
  static Result<std::unique_ptr<CpuBackend>> create(const gguf::File& file, const CpuBackendOptions& options);

  const model::ModelConfig& config() const override { return adapter_.config(); }
  const model::BlockSpec& block() const { return adapter_.block(); }
  int64_t context_capacity() const override { return capacity_; }
  int64_t position() const override { return position_; }
  void reset() override { position_ = 0; }
  Status forward(std::span<const int32_t> tokens, LogitsMode mode, std::vector<float>& logits) override;

  bool weights_dequantized() const { return dequantized_; }
  int thread_count() const { return threads_; }  // workers in use (cpu_threads.hpp resolves 0)

  // Many sequences over a paged KV pool (batched_backend.hpp), in cpu_batched_forward.cpp. Each
  // row is computed with the arithmetic of forward() alone; the pool is separate from the
  // contiguous cache forward() uses.
  kv_pool::KvGeometry kv_geometry() const override;
  Status allocate_kv_blocks(const kv_pool::KvPoolPlan& plan) override;
  Status forward_batch(std::span<const BatchEntry> entries, std::vector<float>& logits,
                       std::vector<int32_t>& greedy) override;
  using BatchedInferenceBackend::forward_batch;

 private:
  // A matmul weight ready for kernels::cpu::matmul_f32: an owned fp32 copy or owned stored bytes.
  struct Matrix {
    gguf::TensorType type = gguf::TensorType::kF32;
    const uint8_t* data = nullptr;
    int64_t row_bytes = 0;
    int64_t in_features = 0;
    int64_t out_features = 0;
    std::vector<float> owned;  // the fp32 copy when dequantized at load
    std::vector<uint8_t> raw;  // the stored bytes, copied, when decoded per row
  };
  struct Layer {
    std::vector<float> attn_norm, ffn_norm;  // (n_embd)
    std::vector<float> bq, bk, bv;           // (q_width), (kv_width), (kv_width); empty without bias
    Matrix wq, wk, wv, wqkv, wo, w_gate, w_up, w_down;
    std::vector<float> k_cache, v_cache;  // (capacity, kv_heads, head_dim)
  };

  explicit CpuBackend(model::LlamaInferenceAdapter adapter) : adapter_(std::move(adapter)) {}
  Status prepare(const CpuBackendOptions& options);
  Result<Matrix> prepare_matrix(const model::WeightView& view, bool dequantize) const;
  Status matmul(const Matrix& w, const float* x, int64_t rows, float* y, const float* bias = nullptr) const;
  // The feed-forward half of a block over n rows, in place on x (scratch: normed and projected
  // n x embedding, gate_up n x 2 feed-forward, activated n x feed-forward).
  Status feed_forward(const Layer& layer, int64_t n, float* x, float* normed, float* gate_up,
                      float* activated, float* projected) const;
  // K (value = false) or V slab of `block` in `layer`: (block_positions, kv_heads, head_dim).
  float* paged_slab(int32_t block, int64_t layer, bool value);

  model::LlamaInferenceAdapter adapter_;
  std::vector<Layer> layers_;
  std::vector<uint8_t> token_embedding_;  // (vocab, row bytes) as stored in the file
  std::vector<float> output_norm_;        // (n_embd)
  Matrix output_;                         // (n_embd -> vocab)
  int64_t capacity_ = 0;
  int64_t position_ = 0;
  int threads_ = 0;
  bool dequantized_ = false;
  kv_pool::KvPoolPlan paged_plan_;  // blocks_total 0 until allocate_kv_blocks
  std::vector<float> paged_kv_;     // (blocks, layers, K|V, block_positions, kv_width)
};

}  // namespace llama_worker::runtime
