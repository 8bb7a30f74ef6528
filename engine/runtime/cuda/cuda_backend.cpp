#include "runtime/cuda/cuda_backend.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <system_error>
#include <thread>

#include "cuda/argmax.cuh"
#include "cuda/attention.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/embedding.cuh"
#include "cuda/quant_gemv.cuh"
#include "cuda/quant_matmul.cuh"
#include "cuda/rmsnorm.cuh"
#include "cuda/rope.cuh"
#include "cuda/swiglu.cuh"
#include "quant/dequantize.hpp"
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
      std::vector<float>& host = host_.emplace_back(static_cast<size_t>(count));  // lives until the upload ends
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

// Decode fusions, as bits: Q, K and V stored apart computed by one launch; the RMSNorm computed
// inside the following product (attention input, feed-forward input, output logits).
constexpr unsigned kDecodeFusionQkvLaunch = 1;
constexpr unsigned kDecodeFusionAttentionNorm = 2;
constexpr unsigned kDecodeFusionFeedForwardNorm = 4;
constexpr unsigned kDecodeFusionOutputNorm = 8;
// RoPE and the KV store inside the split-KV attention launch (cos/sin from a table).
constexpr unsigned kDecodeFusionRopeAttention = 16;
constexpr unsigned kDecodeFusionDefault = kDecodeFusionQkvLaunch | kDecodeFusionRopeAttention;

// Tensor-core prefill, from LLAMA_WORKER_TENSOR_CORE_PREFILL (1 on, 0 off). On by default: on the
// H100 it made pp512 13x faster (Qwen 2,219 -> 29,084 tok/s) and 10x (Phi-3 527 -> 5,329), with the
// exact-shape GPU-vs-CPU tests passing (README, "Measured").
constexpr bool kTensorCorePrefillDefault = true;
constexpr int64_t kTensorCoreMinTokens = 16;

bool tensor_core_prefill_setting() {
  const char* setting = std::getenv("LLAMA_WORKER_TENSOR_CORE_PREFILL");
  if (setting == nullptr || *setting == '\0') return kTensorCorePrefillDefault;
  return std::strcmp(setting, "0") != 0;
}

unsigned decode_fusion_setting() {
  const char* setting = std::getenv("LLAMA_WORKER_DECODE_FUSION");
  if (setting == nullptr || *setting == '\0') return kDecodeFusionDefault;
  return static_cast<unsigned>(std::strtoul(setting, nullptr, 0)) & 31u;
}

kc::RopeStyle kernel_rope_style(model::RopeStyle style) {
  return style == model::RopeStyle::kNeox ? kc::RopeStyle::kNeox : kc::RopeStyle::kNormal;
}


// LLAMA_WORKER_LOAD_TRACE=1: the load's phases with their end times, on stderr.
class LoadTrace {
 public:
  explicit LoadTrace(std::chrono::steady_clock::time_point start) : start_(start) {
    const char* setting = std::getenv("LLAMA_WORKER_LOAD_TRACE");
    on_ = setting != nullptr && std::strcmp(setting, "1") == 0;
  }
  void mark(const char* phase) const {
    if (!on_) return;
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
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
               width - filled, "", total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0);
  if (done >= total) std::fprintf(stderr, "\n");
}

// The fields both product kernels take (TensorCoreMatmulParams, QuantMatmulParams).
template <typename Params>
Params product_params(const DeviceMatrix& w, const float* x, int64_t tokens, float* y, int64_t y_stride,
                      const float* bias, int64_t x_stride) {
  Params p;
  p.y = y;
  p.x = x;
  p.weight = w.data;
  p.weight_type = w.type;
  p.weight_row_bytes = w.row_bytes;
  p.bias = bias;
  p.tokens = tokens;
  p.in_features = w.in_features;
  p.out_features = w.out_features;
  p.y_stride = y_stride;
  p.x_stride = x_stride;
  return p;
}

}  // namespace

Status CudaBackend::product(const DeviceMatrix& w, const float* x, int64_t tokens, float* y, int64_t y_stride,
                            const float* bias, const float* residual, int64_t x_stride) {
  if (tensor_core_ != nullptr && tokens >= kTensorCoreMinTokens && (residual == nullptr || residual == y)) {
    auto p = product_params<kc::TensorCoreMatmulParams>(w, x, tokens, y, y_stride, bias, x_stride);
    p.accumulate = residual != nullptr;
    p.weight_tile = weight_tile_;
    p.weight_tile_elements = kTensorCoreTileElements;
    p.x_half = x_half_;
    return kc::tensor_core_matmul(*tensor_core_, p, stream_);
  }
  auto p = product_params<kc::QuantMatmulParams>(w, x, tokens, y, y_stride, bias, x_stride);
  p.residual = residual;
  return kc::quant_matmul(p, stream_);
}

Result<std::unique_ptr<CudaBackend>> CudaBackend::create(const gguf::File& file, const CudaBackendOptions& options) {
  LW_ASSIGN_OR_RETURN(model::LlamaInferenceAdapter adapter, model::LlamaInferenceAdapter::create(file));
  if (options.sliding_window) LW_TRY(adapter.enable_sliding_window());
  std::unique_ptr<CudaBackend> backend(new CudaBackend(std::move(adapter)));
  LW_TRY(backend->load(options));
  return backend;
}

CudaBackend::~CudaBackend() {
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  if (decode_graph_ != nullptr) cudaGraphExecDestroy(decode_graph_);
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
  int64_t context = options.context > 0 ? options.context : (c.context_length < 4096 ? c.context_length : 4096);
  if (context > c.context_length) {
    return make_error(ErrorCode::kOutOfRange, "context of " + std::to_string(context) + " positions exceeds the model's " +
                                                  std::to_string(c.context_length));
  }
  device_ = options.device;
  use_graph_ = options.use_graph;
  decode_fusion_ = decode_fusion_setting();
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
  LW_TRY(uploader.init(device_, options.upload_chunk_bytes,
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
  uint8_t* activations = take(b * activation_floats_per_token(c) * 4);
  x_ = reinterpret_cast<float*>(activations);
  normed_ = x_ + b * c.embedding_width;
  attention_ = normed_;
  qkv_ = normed_ + b * (c.embedding_width > c.q_width() ? c.embedding_width : c.q_width());
  gate_up_ = qkv_;
  activated_ = gate_up_;  // row stride 2 * feed_forward_width (over the gate half)
  logits_ = reinterpret_cast<float*>(take(kLogitsRowsPerPass * c.vocab_size * 4));
  device_tokens_ = reinterpret_cast<int32_t*>(take(b * 4));
  device_positions_ = reinterpret_cast<int32_t*>(take(b * 4));
  device_error_flag_ = reinterpret_cast<int*>(take(64));
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
                                                " bytes) exceed the memory plan (" + std::to_string(scratch_.bytes()) + ")");
  }
  LW_CUDA_TRY(cudaMemsetAsync(device_error_flag_, 0, sizeof(int), stream_));
  LW_TRY(kc::attention_split_workspace_reset(attention_workspace_, c.head_count, c.head_dim, plan_.context, stream_));
  LW_TRY(kc::rope_table_fill(rope_table_, plan_.context, c.rope_dims, c.rope_freq_base, c.rope_freq_scale, stream_));
  LW_ASSIGN_OR_RETURN(pinned_ids_buffer_, PinnedHostBuffer::allocate(2 * b * 4, "token staging buffer"));
  LW_ASSIGN_OR_RETURN(pinned_logits_buffer_,
                      PinnedHostBuffer::allocate(kLogitsRowsPerPass * c.vocab_size * 4, "logits staging buffer"));
  pinned_ids_ = reinterpret_cast<int32_t*>(pinned_ids_buffer_.data());
  pinned_logits_ = reinterpret_cast<float*>(pinned_logits_buffer_.data());
  LW_CUDA_TRY(cudaStreamSynchronize(stream_));
  trace.mark("scratch, staging, ready");
  load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return Status::ok();
}

Result<ResidencyReport> CudaBackend::check_vram_residency() const {
  return check_residency({&weights_, &kv_cache_, &scratch_});
}

Status CudaBackend::enqueue_layers(int64_t n) {
  const model::ModelConfig& c = adapter_.config();
  const model::BlockSpec& spec = adapter_.block();
  const int64_t embd = c.embedding_width, qw = c.q_width(), kvw = c.kv_width(), ff = c.feed_forward_width;
  const int64_t qkv = qw + 2 * kvw;

  kc::EmbeddingParams embedding;
  embedding.out = x_;
  embedding.tokens = device_tokens_;
  embedding.token_count = n;
  embedding.table = token_embd_.data;
  embedding.table_type = token_embd_.type;
  embedding.table_row_bytes = token_embd_.row_bytes;
  embedding.vocab = c.vocab_size;
  embedding.width = embd;
  embedding.error_flag = device_error_flag_;
  LW_TRY(kc::embedding_lookup(embedding, stream_));

  for (const DeviceLayer& layer : layers_) {
    // Decode: the attention norm and the Q/K/V products (stored fused or apart) in one launch.
    const bool fuse_norm = (decode_fusion_ & kDecodeFusionAttentionNorm) != 0;
    kc::QuantGemvMultiParams qkv_product;
    qkv_product.x = fuse_norm ? x_ : normed_;
    qkv_product.in_features = embd;
    qkv_product.norm_weight = fuse_norm ? layer.attn_norm : nullptr;
    qkv_product.norm_eps = c.rms_norm_eps;
    auto add_segment = [&](const DeviceMatrix& m, float* y, const float* bias) {
      kc::QuantGemvSegment& segment = qkv_product.segments[qkv_product.count++];
      segment.y = y;
      segment.weight = m.data;
      segment.weight_type = m.type;
      segment.weight_row_bytes = m.row_bytes;
      segment.bias = bias;
      segment.out_features = m.out_features;
      return kc::quant_gemv_supports(m.type, m.data, m.row_bytes, embd, x_);
    };
    bool fused_decode = n == 1 && (fuse_norm || (!spec.fused_qkv && (decode_fusion_ & kDecodeFusionQkvLaunch) != 0));
    if (fused_decode && spec.fused_qkv) {
      fused_decode = add_segment(layer.wqkv, qkv_, nullptr);
    } else if (fused_decode) {
      fused_decode = add_segment(layer.wq, qkv_, layer.bq) && add_segment(layer.wk, qkv_ + qw, layer.bk) &&
                     add_segment(layer.wv, qkv_ + qw + kvw, layer.bv);
    }
    if (fused_decode) {
      if (!fuse_norm) LW_TRY(kc::rmsnorm_f32(normed_, x_, layer.attn_norm, n, embd, c.rms_norm_eps, stream_));
      LW_TRY(kc::quant_gemv_multi(qkv_product, stream_));
    } else {
      LW_TRY(kc::rmsnorm_f32(normed_, x_, layer.attn_norm, n, embd, c.rms_norm_eps, stream_));
      if (spec.fused_qkv) {
        LW_TRY(product(layer.wqkv, normed_, n, qkv_, qkv, nullptr, nullptr));
      } else {
        LW_TRY(product(layer.wq, normed_, n, qkv_, qkv, layer.bq, nullptr));
        LW_TRY(product(layer.wk, normed_, n, qkv_ + qw, qkv, layer.bk, nullptr));
        LW_TRY(product(layer.wv, normed_, n, qkv_ + qw + kvw, qkv, layer.bv, nullptr));
      }
    }
    kc::RopeParams rope;
    rope.positions = device_positions_;
    rope.tokens = n;
    rope.head_dim = c.head_dim;
    rope.rotary_dims = c.rope_dims;
    rope.token_stride = qkv;
    rope.freq_base = c.rope_freq_base;
    rope.freq_scale = c.rope_freq_scale;
    rope.style = kernel_rope_style(spec.rope_style);
    // Q heads and K heads are adjacent in each qkv row: one launch rotates both.
    rope.x = qkv_;
    rope.heads = c.head_count + c.kv_head_count;
    // The same launch writes the rotated K heads and the V heads to the cache.
    rope.k_cache = layer.k_cache;
    rope.v_cache = layer.v_cache;
    rope.v = qkv_ + qw + kvw;
    rope.kv_head_begin = c.head_count;
    rope.capacity = plan_.context;
    const bool fuse_rope = n == 1 && (decode_fusion_ & kDecodeFusionRopeAttention) != 0;
    if (!fuse_rope) LW_TRY(kc::rope_f32(rope, stream_));

    kc::AttentionParams attention;
    attention.out = attention_;
    attention.q = qkv_;
    attention.k_cache = layer.k_cache;
    attention.v_cache = layer.v_cache;
    attention.positions = device_positions_;
    attention.q_tokens = n;
    attention.heads = c.head_count;
    attention.kv_heads = c.kv_head_count;
    attention.head_dim = c.head_dim;
    attention.capacity = plan_.context;
    attention.sliding_window = spec.sliding_window;
    attention.q_stride = qkv;
    attention.workspace = attention_workspace_;  // used by single-token decode (split-KV)
    attention.workspace_floats = attention_workspace_floats_;
    if (fuse_rope) {
      attention.rope_table = rope_table_;
      attention.rotary_dims = c.rope_dims;
      attention.rope_style = rope.style;
      attention.new_k = qkv_ + qw;
      attention.new_v = qkv_ + qw + kvw;
      attention.k_store = layer.k_cache;
      attention.v_store = layer.v_cache;
    }
    LW_TRY(kc::attention(attention, stream_));
    LW_TRY(product(layer.wo, attention_, n, x_, embd, nullptr, x_));

    if (n == 1) {
      // Decode: the feed-forward norm, gate, up and SwiGLU in one pass when the decode kernel
      // takes both matrices.
      const DeviceMatrix& gate = spec.fused_gate_up ? layer.w_up : layer.w_gate;
      const uint8_t* up = spec.fused_gate_up ? layer.w_up.data + ff * layer.w_up.row_bytes : layer.w_up.data;
      const bool same_type = spec.fused_gate_up || (layer.w_gate.type == layer.w_up.type &&
                                                    layer.w_gate.row_bytes == layer.w_up.row_bytes);
      const bool fuse_ffn_norm = (decode_fusion_ & kDecodeFusionFeedForwardNorm) != 0;
      if (same_type && kc::quant_gemv_supports(gate.type, gate.data, gate.row_bytes, embd, x_) &&
          kc::quant_gemv_supports(gate.type, up, gate.row_bytes, embd, x_)) {
        if (!fuse_ffn_norm) LW_TRY(kc::rmsnorm_f32(normed_, x_, layer.ffn_norm, n, embd, c.rms_norm_eps, stream_));
        kc::QuantGemvParams fused;
        fused.y = activated_;
        fused.x = fuse_ffn_norm ? x_ : normed_;
        fused.norm_weight = fuse_ffn_norm ? layer.ffn_norm : nullptr;
        fused.norm_eps = c.rms_norm_eps;
        fused.weight = gate.data;
        fused.up_weight = up;
        fused.weight_type = gate.type;
        fused.weight_row_bytes = gate.row_bytes;
        fused.in_features = embd;
        fused.out_features = ff;
        LW_TRY(kc::quant_gemv(fused, stream_));
        LW_TRY(product(layer.w_down, activated_, n, x_, embd, nullptr, x_, 2 * ff));
        continue;
      }
    }
    LW_TRY(kc::rmsnorm_f32(normed_, x_, layer.ffn_norm, n, embd, c.rms_norm_eps, stream_));
    if (spec.fused_gate_up) {
      LW_TRY(product(layer.w_up, normed_, n, gate_up_, 2 * ff, nullptr, nullptr));
    } else {
      LW_TRY(product(layer.w_gate, normed_, n, gate_up_, 2 * ff, nullptr, nullptr));
      LW_TRY(product(layer.w_up, normed_, n, gate_up_ + ff, 2 * ff, nullptr, nullptr));
    }
    kc::SwigluParams swiglu;
    swiglu.out = activated_;
    swiglu.gate = gate_up_;
    swiglu.up = gate_up_ + ff;
    swiglu.rows = n;
    swiglu.width = ff;
    swiglu.gate_row_stride = 2 * ff;
    swiglu.up_row_stride = 2 * ff;
    swiglu.out_row_stride = 2 * ff;  // over the gate half, in place
    LW_TRY(kc::swiglu_f32(swiglu, stream_));
    LW_TRY(product(layer.w_down, activated_, n, x_, embd, nullptr, x_, 2 * ff));
  }
  return Status::ok();
}

Status CudaBackend::enqueue_logits(int64_t first, int64_t rows) {
  const model::ModelConfig& c = adapter_.config();
  const float* x = x_ + first * c.embedding_width;
  if (rows == 1 && (decode_fusion_ & kDecodeFusionOutputNorm) != 0 &&
      kc::quant_gemv_supports(output_.type, output_.data, output_.row_bytes, c.embedding_width, x)) {
    kc::QuantGemvParams product;  // the output norm fused into the logits product
    product.y = logits_;
    product.x = x;
    product.norm_weight = output_norm_;
    product.norm_eps = c.rms_norm_eps;
    product.weight = output_.data;
    product.weight_type = output_.type;
    product.weight_row_bytes = output_.row_bytes;
    product.in_features = c.embedding_width;
    product.out_features = c.vocab_size;
    return kc::quant_gemv(product, stream_);
  }
  LW_TRY(kc::rmsnorm_f32(normed_, x, output_norm_, rows, c.embedding_width, c.rms_norm_eps, stream_));
  return product(output_, normed_, rows, logits_, c.vocab_size, nullptr, nullptr);
}

Status CudaBackend::run_decode_graph() {
  if (decode_graph_ == nullptr) {
    cudaGraph_t graph = nullptr;
    LW_CUDA_TRY(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    Status captured = enqueue_layers(1);
    if (captured) captured = enqueue_logits(0, 1);
    const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
    LW_TRY(captured);
    LW_CUDA_TRY(ended);
    const cudaError_t instantiated = cudaGraphInstantiate(&decode_graph_, graph, 0);
    cudaGraphDestroy(graph);
    LW_CUDA_TRY(instantiated);
  }
  LW_CUDA_TRY(cudaGraphLaunch(decode_graph_, stream_));
  return Status::ok();
}

Status CudaBackend::run_batch(std::span<const int32_t> tokens, LogitsMode mode, std::vector<float>& logits) {
  const model::ModelConfig& c = adapter_.config();
  const int64_t n = static_cast<int64_t>(tokens.size());
  for (int64_t t = 0; t < n; ++t) {
    pinned_ids_[t] = tokens[static_cast<size_t>(t)];
    pinned_ids_[plan_.max_batch + t] = static_cast<int32_t>(position_ + t);
  }
  LW_CUDA_TRY(cudaMemcpyAsync(device_tokens_, pinned_ids_, static_cast<size_t>(n * 4), cudaMemcpyHostToDevice, stream_));
  LW_CUDA_TRY(cudaMemcpyAsync(device_positions_, pinned_ids_ + plan_.max_batch, static_cast<size_t>(n * 4),
                              cudaMemcpyHostToDevice, stream_));
  const bool want_all = mode == LogitsMode::kAllPositions;
  const int64_t first_row = want_all ? 0 : n - 1;
  if (n == 1 && use_graph_) {
    LW_TRY(run_decode_graph());
  } else {
    LW_TRY(enqueue_layers(n));
  }
  for (int64_t row = first_row; row < n; row += kLogitsRowsPerPass) {
    const int64_t rows = n - row < kLogitsRowsPerPass ? n - row : kLogitsRowsPerPass;
    if (!(n == 1 && use_graph_)) LW_TRY(enqueue_logits(row, rows));
    LW_CUDA_TRY(cudaMemcpyAsync(pinned_logits_, logits_, static_cast<size_t>(rows * c.vocab_size * 4),
                                cudaMemcpyDeviceToHost, stream_));
    LW_CUDA_TRY(cudaStreamSynchronize(stream_));
    logits.insert(logits.end(), pinned_logits_, pinned_logits_ + rows * c.vocab_size);
  }
  position_ += n;
  return Status::ok();
}

Status CudaBackend::forward(std::span<const int32_t> tokens, LogitsMode mode, std::vector<float>& logits) {
  const model::ModelConfig& c = adapter_.config();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return make_error(ErrorCode::kInvalidArgument, "forward: no tokens");
  if (position_ + n > plan_.context) {
    return make_error(ErrorCode::kOutOfRange, std::to_string(position_) + " cached + " + std::to_string(n) +
                                                  " new tokens exceed the context of " + std::to_string(plan_.context) +
                                                  " positions");
  }
  for (int64_t t = 0; t < n; ++t) {
    const int32_t id = tokens[static_cast<size_t>(t)];
    if (id < 0 || id >= c.vocab_size) {
      return make_error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) + " at position " +
                                                         std::to_string(t) + " is outside the vocabulary of " +
                                                         std::to_string(c.vocab_size));
    }
  }
  logits.clear();
  for (int64_t begin = 0; begin < n; begin += plan_.max_batch) {
    const int64_t count = n - begin < plan_.max_batch ? n - begin : plan_.max_batch;
    const bool last_chunk = begin + count == n;
    std::vector<float> chunk_logits;
    const LogitsMode chunk_mode = mode == LogitsMode::kAllPositions ? LogitsMode::kAllPositions : LogitsMode::kLastPosition;
    LW_TRY(run_batch(tokens.subspan(static_cast<size_t>(begin), static_cast<size_t>(count)), chunk_mode, chunk_logits));
    if (mode == LogitsMode::kAllPositions || last_chunk) logits.insert(logits.end(), chunk_logits.begin(), chunk_logits.end());
  }
  return Status::ok();
}

}  // namespace llama_worker::runtime::cuda
