// CudaBackend's load: memory plan, the three device allocations, the weight upload (with cuBLAS
// loading beside it), scratch views and staging buffers. The forward pass is cuda_backend.cpp.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <system_error>
#include <thread>

#include "cuda/attention.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/rope.cuh"
#include "cuda/tensor_core_matmul.cuh"
#include "quant/dequantize.hpp"
#include "runtime/cuda/backend_settings.hpp"
#include "runtime/cuda/cuda_backend.hpp"
#include "runtime/cuda/weight_upload.hpp"

namespace llama_worker::runtime::cuda {
namespace kc = kernels::cuda;

namespace {

// Places weights in the arena in a fixed order; the same walk sizes (arena == null) and uploads.
class WeightPlacer {
 public:
  WeightPlacer(uint8_t* arena, StagedUploader* uploader) : arena_(arena), uploader_(uploader) {}

  Result<DeviceMatrix> matrix(const model::WeightView& view) {
    DeviceMatrix m;
    if (!view.present()) return m;
    m.type = view.type;
    m.row_bytes = view.row_bytes;
    m.in_features = view.row_length;
    m.out_features = view.rows;
    const int64_t bytes = view.row_bytes * view.rows;
    m.data = arena_ + offset_;
    if (arena_ != nullptr) LW_TRY(uploader_->upload(arena_ + offset_, view.data, bytes));
    offset_ += align_up(bytes);
    return m;
  }

  // Norm and bias vectors as fp32, whatever their stored type.
  Result<const float*> vector(const model::WeightView& view) {
    if (!view.present()) return static_cast<const float*>(nullptr);
    const int64_t count = view.row_length * view.rows;
    auto* device = reinterpret_cast<const float*>(arena_ + offset_);
    if (arena_ != nullptr) {
      std::vector<float>& host =
          host_.emplace_back(static_cast<size_t>(count));  // lives until the upload ends
      const Status status = quant::dequantize_row(view.type, view.data, host.data(), count);
      if (!status) return make_error(status.code(), "tensor '" + view.name() + "': " + status.message());
      LW_TRY(uploader_->upload(arena_ + offset_, host.data(), count * 4));
    }
    offset_ += align_up(count * 4);
    return device;
  }

  int64_t offset() const { return offset_; }

 private:
  uint8_t* arena_;
  StagedUploader* uploader_;
  int64_t offset_ = 0;
  std::deque<std::vector<float>> host_;  // norm and bias vectors as fp32, queued for upload
};

// LLAMA_WORKER_LOAD_TRACE=1: the load's phases with their end times, on stderr.
class LoadTrace {
 public:
  explicit LoadTrace(std::chrono::steady_clock::time_point start) : start_(start) {
    const char* setting = std::getenv("LLAMA_WORKER_LOAD_TRACE");
    on_ = setting != nullptr && std::strcmp(setting, "1") == 0;
  }
  void mark(const char* phase) const {
    if (!on_) return;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr, "load trace: %-28s %8.1f ms\n", phase, ms);
  }

 private:
  std::chrono::steady_clock::time_point start_;
  bool on_ = false;
};

void print_progress(int64_t done, int64_t total) {
  const int width = 40;
  const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\rloading [%.*s%*s] %5.1f%%", filled, "########################################",
               width - filled, "",
               total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0);
  if (done >= total) std::fprintf(stderr, "\n");
}

}  // namespace

Result<std::unique_ptr<CudaBackend>> CudaBackend::create(const gguf::File& file,
                                                         const CudaBackendOptions& options) {
  LW_ASSIGN_OR_RETURN(model::LlamaInferenceAdapter adapter, model::LlamaInferenceAdapter::create(file));
  if (options.sliding_window) LW_TRY(adapter.enable_sliding_window());
  std::unique_ptr<CudaBackend> backend(new CudaBackend(std::move(adapter)));
  LW_TRY(backend->load(options));
  return backend;
}

CudaBackend::~CudaBackend() {
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  if (decode_graph_ != nullptr) cudaGraphExecDestroy(decode_graph_);
  destroy_batched_graphs();
  tensor_core_.reset();  // its cuBLAS handle is bound to stream_
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

Status CudaBackend::load(const CudaBackendOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const LoadTrace trace(start);
  const model::ModelConfig& c = adapter_.config();
  const model::ModelWeights& w = adapter_.weights();
  if (options.max_batch <= 0 || options.context < 0) {
    return make_error(ErrorCode::kInvalidArgument, "cuda backend: context must be >= 0 and max_batch > 0");
  }
  int64_t context =
      options.context > 0 ? options.context : (c.context_length < 4096 ? c.context_length : 4096);
  if (context > c.context_length) {
    return make_error(ErrorCode::kOutOfRange, "context of " + std::to_string(context) +
                                                  " positions exceeds the model's " +
                                                  std::to_string(c.context_length));
  }
  device_ = options.device;
  vram_budget_bytes_ = options.vram_budget_bytes;
  use_graph_ = options.use_graph;
  tensor_core_attention_ = tensor_core_attention_setting();
  grouped_attention_ = grouped_attention_setting();
  decode_pdl_ = decode_pdl_setting(c.embedding_width);
  decode_int8_ = decode_int8_setting(c.embedding_width);
  decode_fusion_ = decode_fusion_setting(decode_int8_);
  batched_tensor_cores_ = batched_tensor_cores_setting();
  batched_weights_setting_ = batched_weights_setting();
  batched_pdl_ = batched_pdl_setting();
  LW_CUDA_TRY(cudaSetDevice(device_));
  const bool tensor_core_prefill = tensor_core_prefill_setting();
  LW_ASSIGN_OR_RETURN(plan_, plan_memory(adapter_, context, options.max_batch, tensor_core_prefill));
  size_t free_bytes = 0, total_bytes = 0;
  LW_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  LW_TRY(check_memory_plan(plan_, c.name, static_cast<int64_t>(free_bytes), options.vram_budget_bytes));

  LW_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  trace.mark("plan, stream");
  LW_ASSIGN_OR_RETURN(weights_, DeviceAllocation::allocate(plan_.weight_bytes, "weights"));
  LW_ASSIGN_OR_RETURN(kv_cache_, DeviceAllocation::allocate(plan_.kv_bytes(), "kv cache"));
  LW_ASSIGN_OR_RETURN(scratch_, DeviceAllocation::allocate(plan_.scratch_bytes, "scratch"));
  // cuBLAS loads (dlopen, handle) on its own thread while the weights upload. Without a loadable
  // cuBLAS the CUDA-core kernels serve every batch (the scratch stays unused).
  std::unique_ptr<kc::TensorCoreSession> session;
  std::jthread cublas_loader;
  auto load_cublas = [this, &session] {
    if (cudaSetDevice(device_) != cudaSuccess) return;
    auto created = kc::TensorCoreSession::create(stream_);
    if (created) session = std::move(*created);
  };
  if (tensor_core_prefill) {
    kc::preload_tensor_core_library();  // on this thread first: it sets cuBLAS's environment
    try {
      cublas_loader = std::jthread(load_cublas);
    } catch (const std::system_error&) {
      load_cublas();  // no thread to be had: load it here, before the upload
    }
  }

  trace.mark("device allocations");
  StagedUploader uploader;
  const bool progress = options.show_progress && isatty(STDERR_FILENO) != 0;
  const int64_t total = plan_.weight_bytes;
  LW_TRY(uploader.init(
      device_, options.upload_chunk_bytes,
      options.upload_workers > 0 ? options.upload_workers : default_upload_workers(),
      progress ? std::function<void(int64_t)>([total](int64_t done) { print_progress(done, total); })
               : nullptr));
  WeightPlacer placer(weights_.data(), &uploader);
  LW_ASSIGN_OR_RETURN(token_embd_, placer.matrix(w.token_embd));
  LW_ASSIGN_OR_RETURN(output_norm_, placer.vector(w.output_norm));
  if (adapter_.block().tied_output) {
    output_ = token_embd_;
  } else {
    LW_ASSIGN_OR_RETURN(output_, placer.matrix(w.output));
  }
  const int64_t kv_elements = plan_.context * c.kv_width();
  auto* kv = reinterpret_cast<__half*>(kv_cache_.data());
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const model::LayerWeights& lw = w.layers[i];
    DeviceLayer layer;
    LW_ASSIGN_OR_RETURN(layer.attn_norm, placer.vector(lw.attn_norm));
    LW_ASSIGN_OR_RETURN(layer.ffn_norm, placer.vector(lw.ffn_norm));
    LW_ASSIGN_OR_RETURN(layer.bq, placer.vector(lw.bq));
    LW_ASSIGN_OR_RETURN(layer.bk, placer.vector(lw.bk));
    LW_ASSIGN_OR_RETURN(layer.bv, placer.vector(lw.bv));
    LW_ASSIGN_OR_RETURN(layer.wq, placer.matrix(lw.wq));
    LW_ASSIGN_OR_RETURN(layer.wk, placer.matrix(lw.wk));
    LW_ASSIGN_OR_RETURN(layer.wv, placer.matrix(lw.wv));
    LW_ASSIGN_OR_RETURN(layer.wqkv, placer.matrix(lw.wqkv));
    LW_ASSIGN_OR_RETURN(layer.wo, placer.matrix(lw.wo));
    LW_ASSIGN_OR_RETURN(layer.w_gate, placer.matrix(lw.w_gate));
    LW_ASSIGN_OR_RETURN(layer.w_up, placer.matrix(lw.w_up));
    LW_ASSIGN_OR_RETURN(layer.w_down, placer.matrix(lw.w_down));
    layer.k_cache = kv + (2 * static_cast<int64_t>(i)) * kv_elements;
    layer.v_cache = kv + (2 * static_cast<int64_t>(i) + 1) * kv_elements;
    layers_.push_back(layer);
  }
  trace.mark("placement walk");
  LW_TRY(uploader.finish());
  trace.mark("upload");
  if (cublas_loader.joinable()) cublas_loader.join();
  tensor_core_ = std::move(session);
  trace.mark("cuBLAS ready");
  if (placer.offset() != plan_.weight_bytes) {  // the plan and the walk must agree
    return make_error(ErrorCode::kInternal, "weight placement (" + std::to_string(placer.offset()) +
                                                " bytes) disagrees with the memory plan (" +
                                                std::to_string(plan_.weight_bytes) + ")");
  }

  // Scratch views.
  const int64_t b = plan_.max_batch;
  uint8_t* cursor = scratch_.data();
  auto take = [&cursor](int64_t bytes) {
    uint8_t* at = cursor;
    cursor += align_up(bytes);
    return at;
  };
  // Shared regions (memory_plan.hpp): normed | attention output, and Q/K/V | gate/up | SwiGLU out.
  const ActivationLayout layout = activation_layout(c);
  const int64_t activation_bytes = b * layout.floats_per_token() * 4;
  const int64_t logits_bytes = kLogitsRowsPerPass * c.vocab_size * 4;
  uint8_t* activations = take(activation_bytes);
  x_ = reinterpret_cast<float*>(activations);
  normed_ = x_ + b * layout.residual;
  attention_ = normed_;
  qkv_ = normed_ + b * layout.normed_or_attention;
  gate_up_ = qkv_;
  activated_ = gate_up_;  // row stride 2 * feed_forward_width (over the gate half)
  logits_ = reinterpret_cast<float*>(take(logits_bytes));
  device_tokens_ = reinterpret_cast<int32_t*>(take(b * 4));
  device_positions_ = reinterpret_cast<int32_t*>(take(b * 4));
  device_error_flag_ = reinterpret_cast<int*>(take(64));
  norm_counter_ = reinterpret_cast<unsigned*>(take(64));
  attention_workspace_floats_ = kc::attention_split_workspace_floats(c.head_count, c.head_dim, plan_.context);
  attention_workspace_ = reinterpret_cast<float*>(take(attention_workspace_floats_ * 4));
  rope_table_ = reinterpret_cast<float2*>(take(plan_.context * (c.rope_dims / 2) * 8));
  if (tensor_core_prefill) {
    weight_tile_ = reinterpret_cast<__half*>(take(kTensorCoreTileElements * 2));
    x_half_ = reinterpret_cast<__half*>(take(b * widest_product_input(c) * 2));
    uint8_t* cublas_workspace = take(kCublasWorkspaceBytes);
    if (tensor_core_ != nullptr) LW_TRY(tensor_core_->set_workspace(cublas_workspace, kCublasWorkspaceBytes));
  }
  if (cursor - scratch_.data() > scratch_.bytes()) {
    return make_error(ErrorCode::kInternal, "scratch views (" + std::to_string(cursor - scratch_.data()) +
                                                " bytes) exceed the memory plan (" +
                                                std::to_string(scratch_.bytes()) + ")");
  }
  LW_CUDA_TRY(cudaMemsetAsync(device_error_flag_, 0, sizeof(int), stream_));
  LW_CUDA_TRY(cudaMemsetAsync(norm_counter_, 0, sizeof(unsigned), stream_));
  // The activations and logits start as zeros, once per load (~25 MiB at 512 tokens: microseconds):
  // cuBLAS's sm90 GEMMs write some regions first (gate/up), and compute-sanitizer's initcheck does
  // not see those stores (ci/probes/cublas_initcheck_probe.cu), so the kernel reading them next
  // was reported as reading uninitialized memory. Zeros also keep any stale read reproducible.
  LW_CUDA_TRY(cudaMemsetAsync(activations, 0, static_cast<size_t>(activation_bytes), stream_));
  LW_CUDA_TRY(cudaMemsetAsync(logits_, 0, static_cast<size_t>(logits_bytes), stream_));
  LW_TRY(kc::attention_split_workspace_reset(attention_workspace_, c.head_count, c.head_dim, plan_.context,
                                             stream_));
  LW_TRY(kc::rope_table_fill(rope_table_, plan_.context, c.rope_dims, c.rope_freq_base, c.rope_freq_scale,
                             stream_));
  LW_ASSIGN_OR_RETURN(pinned_ids_buffer_, PinnedHostBuffer::allocate(2 * b * 4, "token staging buffer"));
  LW_ASSIGN_OR_RETURN(pinned_logits_buffer_, PinnedHostBuffer::allocate(kLogitsRowsPerPass * c.vocab_size * 4,
                                                                        "logits staging buffer"));
  pinned_ids_ = reinterpret_cast<int32_t*>(pinned_ids_buffer_.data());
  pinned_logits_ = reinterpret_cast<float*>(pinned_logits_buffer_.data());
  LW_CUDA_TRY(cudaStreamSynchronize(stream_));
  trace.mark("scratch, staging, ready");
  load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return Status::ok();
}

Result<ResidencyReport> CudaBackend::check_vram_residency() const {
  return check_residency({&weights_, &kv_cache_, &scratch_, &paged_kv_, &batch_meta_});
}

}  // namespace llama_worker::runtime::cuda
