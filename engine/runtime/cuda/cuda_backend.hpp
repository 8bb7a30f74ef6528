// CUDA backend: the forward pass of the common Llama block (model/llama_inference_adapter.hpp)
// on one device, with the weights kept in their stored GGUF encoding in device memory.
//
// Load: plan memory (memory_plan.hpp) and check it against free memory and the budget before
// allocating; then three cudaMalloc allocations (weights, fp16 KV cache, scratch) and a staged,
// double-buffered upload from the file's mapping (weight_upload.hpp). Norm and bias vectors are
// decoded to fp32 on the host first. A failed load frees everything (RAII).
//
// Forward: per batch of up to max_batch tokens, the same sequence of ops as the CPU reference:
// embedding -> [rmsnorm -> Q/K/V (+bias) -> RoPE -> KV store -> attention -> Wo + residual ->
// rmsnorm -> gate/up -> SwiGLU -> Wdown + residual] x layers -> rmsnorm -> logits. Q, K and V land
// side by side in one (tokens, q + 2 kv) buffer and gate/up in one (tokens, 2 ff) buffer, so the
// fused (Phi-3) and separate (Qwen2, Llama) layouts run the same kernels with strides.
//
// Decode (one token): token ids and positions are read from device memory, nothing is allocated,
// and the step is captured once as a CUDA graph and replayed; the only host synchronisation is
// the copy of the logits. Every reduction has a fixed order, so output is bit-reproducible.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "cuda/fragment_mma.cuh"
#include "cuda/rope.cuh"
#include "cuda/tensor_core_matmul.cuh"
#include "gguf/file.hpp"
#include "model/llama_inference_adapter.hpp"
#include "runtime/backend.hpp"
#include "runtime/batched_backend.hpp"
#include "runtime/cuda/backend_settings.hpp"
#include "runtime/cuda/device_memory.hpp"
#include "runtime/cuda/memory_plan.hpp"

namespace llama_worker::runtime::cuda {

struct CudaBackendOptions {
  int device = 0;                        // CUDA device index
  int64_t context = 0;                   // KV cache positions; 0 = min(model context, 4096)
  int64_t max_batch = 512;               // tokens per device forward pass (longer prompts run in chunks)
  int64_t upload_chunk_bytes = 1 << 20;  // pinned staging buffer size
  int upload_workers = 0;                // host copy threads of the upload (0: default_upload_workers())
  int64_t vram_budget_bytes = 0;         // 0: no budget beyond free memory
  bool sliding_window = false;           // apply the window the file declares (see model/architecture.hpp)
  bool use_graph = true;                 // capture the decode step as one CUDA graph
  bool show_progress = false;            // progress bar on stderr while uploading
};

struct DeviceMatrix {
  gguf::TensorType type = gguf::TensorType::kF32;
  const uint8_t* data = nullptr;  // device, out_features rows of row_bytes
  int64_t row_bytes = 0;
  int64_t in_features = 0;
  int64_t out_features = 0;
  // The batched step's copy in mma fragment order (fragment_mma.cuh), in `fragment_form`, or null:
  // made when the paged pool is first allocated, unless LLAMA_WORKER_BATCHED_WEIGHTS=quant.
  const void* fragments = nullptr;
  kernels::cuda::FragmentForm fragment_form = kernels::cuda::FragmentForm::kHalf;
};

class CudaBackend final : public InferenceBackend, public BatchedInferenceBackend {
 public:
  // `file` must outlive the backend only during create (weights are copied to the device).
  static Result<std::unique_ptr<CudaBackend>> create(const gguf::File& file,
                                                     const CudaBackendOptions& options);
  ~CudaBackend() override;

  const model::ModelConfig& config() const override { return adapter_.config(); }
  int64_t context_capacity() const override { return plan_.context; }
  int64_t position() const override { return position_; }
  void reset() override { position_ = 0; }
  Status forward(std::span<const int32_t> tokens, LogitsMode mode, std::vector<float>& logits) override;

  // Many sequences over a paged fp16 KV pool (batched_backend.hpp), in cuda_batched_forward.cpp.
  // Every op of the batched step is row-wise or per row (the column-invariant products of
  // fragment_mma / quant_mma_columns / quant_gemv_columns, paged attention per query row, the
  // greedy argmax per row), so an entry's bits depend on its own rows
  // only: not on the other entries, their number or order, nor on how its prompt is chunked. The
  // arithmetic differs from forward() (no fused decode kernels, no tensor cores), so a sequence
  // run alone through forward() is not bit-equal to it through forward_batch(); the pool is
  // separate from forward()'s contiguous cache.
  kv_pool::KvGeometry kv_geometry() const override;
  Status allocate_kv_blocks(const kv_pool::KvPoolPlan& plan) override;
  int64_t measured_kv_pool_bytes() const override { return measured_kv_pool_bytes_; }
  Status forward_batch(std::span<const BatchEntry> entries, std::vector<float>& logits,
                       std::vector<int32_t>& greedy) override;
  using BatchedInferenceBackend::forward_batch;

  const MemoryPlan& memory_plan() const { return plan_; }
  // Every weight, KV and scratch buffer is plain device memory (cudaPointerGetAttributes).
  Result<ResidencyReport> check_vram_residency() const;
  double load_seconds() const { return load_seconds_; }

 private:
  struct DeviceLayer {
    const float* attn_norm = nullptr;  // (n_embd)
    const float* ffn_norm = nullptr;   // (n_embd)
    const float* bq = nullptr;         // (q_width) or null
    const float* bk = nullptr;         // (kv_width) or null
    const float* bv = nullptr;         // (kv_width) or null
    DeviceMatrix wq, wk, wv, wqkv, wo, w_gate, w_up, w_down;
    // The batched step's Q, K and V products as one (make_batched_weights): wq's, wk's and wv's
    // fragment copies where they lie back to back in one form, with their biases side by side
    // (zeros for a missing one). fragments null: three products.
    DeviceMatrix batched_qkv;
    const float* batched_qkv_bias = nullptr;
    __half* k_cache = nullptr;  // (context, kv_heads, head_dim)
    __half* v_cache = nullptr;
  };

  explicit CudaBackend(model::LlamaInferenceAdapter adapter) : adapter_(std::move(adapter)) {}
  Status load(const CudaBackendOptions& options);
  // Enqueues one batch (tokens and positions already on the device) up to the final norm.
  Status enqueue_layers(int64_t tokens);
  // Enqueues final norm + logits for rows [first, first + rows) of the batch into logits_.
  Status enqueue_logits(int64_t first, int64_t rows);
  Status run_batch(std::span<const int32_t> tokens, LogitsMode mode, std::vector<float>& logits);
  Status run_decode_graph();
  // y = x W^T (+ bias) (+ residual): tensor cores for batches of kTensorCoreMinTokens and more when
  // that path is on, otherwise the CUDA-core kernels (decode kernel for one token).
  Status product(const DeviceMatrix& w, const float* x, int64_t tokens, float* y, int64_t y_stride,
                 const float* bias, const float* residual, int64_t x_stride = 0);
  // Decode (one token): x_ += w . input, then normed_ = rmsnorm(x_) * norm_weight computed by the
  // product's last block when the tail-norm fusion is on and the decode kernel takes w; else the
  // product alone. Returns whether normed_ was written.
  Result<bool> residual_product_then_norm(const DeviceMatrix& w, const float* input,
                                          const float* norm_weight);

  // Set-up both steps share: the embedding rows of `n` token ids (device) into x_, and the RoPE
  // launch over qkv_'s Q and K heads at `positions` (the caller says where K and V are stored).
  Status enqueue_embedding(const int32_t* tokens, int64_t n);
  kernels::cuda::RopeParams qkv_rope_params(const int32_t* positions, int64_t n) const;
  // The batched step (cuda_batched_forward.cpp): one pass of `rows` stacked rows whose token ids,
  // positions, table offsets and block tables are in batch_meta_, up to the final norm.
  Status enqueue_batched_layers(int64_t rows);
  // What a pass's logits rows bring back: nothing, every row's greedy token (argmax on the device),
  // every row's logits, or a mix (greedy rows their token, the others their logits).
  enum class BatchedLogitsCopy { kNone, kGreedy, kLogits, kMixed };
  static BatchedLogitsCopy batched_logits_copy(const std::vector<bool>& greedy_rows);
  // One pass of `rows` stacked rows (their metadata uploaded) and its logits: greedy_rows holds a
  // flag per gathered row (batch_gather_), set where the row wants its greedy token only; such a
  // row appends its token to `greedy`, any other its logits to `logits`. Through a graph where
  // rows <= kBatchedGraphRows: of the layers and the logits pass for a decode pass (every row
  // gathered, all greedy or none), of the layers only for any other pass.
  Status run_batched_pass(int64_t rows, const std::vector<bool>& greedy_rows, std::vector<float>& logits,
                          std::vector<int32_t>& greedy);
  // Final norm, logits and the copies back of gathered rows [done, done + rows) (rows <=
  // kBatchedLogitsRows), and, once the stream is synchronized, their tokens or logits appended.
  Status enqueue_batched_logits(int64_t done, int64_t rows, const std::vector<bool>& greedy_rows);
  void collect_batched_logits(int64_t done, int64_t rows, const std::vector<bool>& greedy_rows,
                              std::vector<float>& logits, std::vector<int32_t>& greedy) const;
  // y = x W^T (+ bias) (+ residual), or the SwiGLU form with `up`: every row's bits independent of
  // `rows` (quant_mma_columns where the matrix allows and the setting is on, else
  // quant_gemv_columns). batched_swiglu_fits: whether the SwiGLU form serves this gate/up pair.
  // Matrices with fragments take fragment_mma (up_fragments: the SwiGLU form's up matrix).
  bool batched_on_tensor_cores(const DeviceMatrix& w) const;
  bool batched_swiglu_fits(const DeviceMatrix& gate, const DeviceMatrix& up_matrix, const uint8_t* up,
                           const void* up_fragments) const;
  Status batched_product(const DeviceMatrix& w, const float* x, int64_t x_stride, int64_t rows, float* y,
                         int64_t y_stride, const float* bias, const float* residual,
                         const uint8_t* up = nullptr, const void* up_fragments = nullptr,
                         __half* y_packed = nullptr, int x_slot = 0);
  // Packs a product input for fragment_mma (no-op without fragment copies): before the products
  // that read it.
  Status batched_pack(const float* x, int64_t x_stride, int64_t rows, int64_t width);
  // Packed-activation slot `slot` (0 or 1) for a product input of `width` (null without fragment
  // copies or for a width fragment_mma does not take): where RMSNorm, the attention and the SwiGLU
  // form write it directly. Products read slot 0 (x_slot 1: the SwiGLU form's output).
  __half* packed_for(int64_t width, int slot = 0) const;
  void destroy_batched_graphs();
  // Which matrices take a fragment copy and in which form (LLAMA_WORKER_BATCHED_WEIGHTS: coded or
  // f16), and the bytes of them all; make_batched_weights makes the copies of that plan once.
  struct FragmentCopyPlan {
    std::vector<std::pair<DeviceMatrix*, kernels::cuda::FragmentForm>> matrices;
    int64_t bytes = 0;
  };
  FragmentCopyPlan plan_batched_weights();
  Status make_batched_weights(const FragmentCopyPlan& copy);
  // Before allocate_kv_blocks allocates: whether the pool, the fragment copy still to make and the
  // batch buffers fit the device's free memory and what the load's budget leaves (kOutOfMemory
  // naming each part otherwise).
  Status check_batched_memory(const kv_pool::KvPoolPlan& plan, int64_t fragment_bytes,
                              int64_t buffer_bytes) const;
  // Joins each layer's separate Q, K and V copies into DeviceLayer::batched_qkv where they allow it.
  Status join_batched_qkv();

  model::LlamaInferenceAdapter adapter_;
  MemoryPlan plan_;
  // The paged pool and the batch's metadata (allocate_kv_blocks): int32 regions of max_batch
  // each for tokens, positions, table offsets and gathered rows, kBatchedLogitsRows greedy
  // tokens, then the block tables.
  kv_pool::KvPoolPlan paged_plan_;
  int64_t measured_kv_pool_bytes_ = 0;  // cudaMemGetInfo's drop across the pool's allocation
  int64_t vram_budget_bytes_ = 0;       // CudaBackendOptions::vram_budget_bytes (0: none)
  DeviceAllocation paged_kv_, batch_meta_;
  PinnedHostBuffer pinned_batch_meta_buffer_;
  int32_t* pinned_batch_meta_ = nullptr;
  int64_t batch_meta_ints_ = 0;
  int32_t *batch_tokens_ = nullptr, *batch_positions_ = nullptr, *batch_row_tables_ = nullptr,
          *batch_gather_ = nullptr, *batch_greedy_ = nullptr, *batch_tables_ = nullptr;
  int32_t* pinned_greedy_ = nullptr;  // kBatchedLogitsRows greedy tokens coming back
  DeviceAllocation weights_, kv_cache_, scratch_;
  std::vector<DeviceLayer> layers_;
  DeviceMatrix token_embd_, output_;
  const float* output_norm_ = nullptr;
  // Scratch views, (max_batch, width) fp32 each; some share memory (memory_plan.hpp).
  float *x_ = nullptr, *normed_ = nullptr, *qkv_ = nullptr, *attention_ = nullptr, *gate_up_ = nullptr,
        *activated_ = nullptr, *logits_ = nullptr;
  int32_t *device_tokens_ = nullptr, *device_positions_ = nullptr;
  int* device_error_flag_ = nullptr;
  unsigned* norm_counter_ = nullptr;      // the decode products' output-norm tail (quant_gemv.cuh)
  bool logits_input_normed_ = false;      // the last decode step left output_norm(x) in normed_
  float* attention_workspace_ = nullptr;  // split-KV decode partials
  float2* rope_table_ = nullptr;          // (context, rope_dims / 2) cos, sin (fused decode RoPE)
  int64_t attention_workspace_floats_ = 0;
  PinnedHostBuffer pinned_ids_buffer_, pinned_logits_buffer_;
  int32_t* pinned_ids_ = nullptr;   // (2 * max_batch) host staging for tokens | positions
  float* pinned_logits_ = nullptr;  // (kLogitsRowsPerPass * vocab) host staging
  cudaStream_t stream_ = nullptr;
  cudaGraphExec_t decode_graph_ = nullptr;
  // The batched step's layers (and a decode pass's logits) captured once per pass size and logits
  // copy (rows <= kBatchedGraphRows), replayed after; they bake the pool's and scratch's addresses, so
  // allocate_kv_blocks drops them. Key: the pass's rows and what its logits pass copies back (kNone: the
  // graph holds the layers only).
  using BatchedGraphKey = std::pair<int64_t, BatchedLogitsCopy>;
  std::map<BatchedGraphKey, cudaGraphExec_t> batched_graphs_;
  bool use_graph_ = true;
  // Decode fusions (bits of kDecodeFusion*), from LLAMA_WORKER_DECODE_FUSION when set: each was
  // measured on the H100 (README, "Performance"); the default keeps the ones that paid.
  unsigned decode_fusion_ = 0;
  bool tensor_core_attention_ = true;  // LLAMA_WORKER_TENSOR_CORE_ATTENTION (backend_settings.hpp)
  bool grouped_attention_ = false;     // LLAMA_WORKER_GROUPED_ATTENTION (backend_settings.hpp)
  std::optional<bool> decode_pdl_;     // LLAMA_WORKER_DECODE_PDL (backend_settings.hpp)
  bool decode_int8_ = false;           // LLAMA_WORKER_DECODE_INT8 (backend_settings.hpp)
  bool batched_tensor_cores_ = true;   // LLAMA_WORKER_BATCHED_TENSOR_CORES (backend_settings.hpp)
  BatchedWeights batched_weights_setting_ = BatchedWeights::kCoded;  // backend_settings.hpp
  unsigned batched_pdl_ = 0;             // LLAMA_WORKER_BATCHED_PDL: kBatchedPdl* bits (backend_settings.hpp)
  DeviceAllocation batched_qkv_biases_;  // every DeviceLayer::batched_qkv_bias
  DeviceAllocation batched_weights_;     // every DeviceMatrix::fragments, one allocation
  // The batched step's scratch (allocate_kv_blocks): a product input packed for fragment_mma, and
  // the logits rows of one pass of kBatchedLogitsRows (device and pinned staging).
  DeviceAllocation x_packed_buffer_, batched_logits_, argmax_workspace_;
  int64_t packed_slot_halves_ = 0;  // halves of each of x_packed_buffer_'s two slots
  PinnedHostBuffer pinned_batched_logits_;
  // Tensor-core prefill (LLAMA_WORKER_TENSOR_CORE_PREFILL; see kernels/cuda/tensor_core_matmul.cuh).
  std::unique_ptr<kernels::cuda::TensorCoreSession> tensor_core_;
  __half* weight_tile_ = nullptr;  // kTensorCoreTileElements halves
  __half* x_half_ = nullptr;       // (max_batch, widest product input) halves
  int device_ = 0;
  int64_t position_ = 0;
  double load_seconds_ = 0.0;
};

}  // namespace llama_worker::runtime::cuda
