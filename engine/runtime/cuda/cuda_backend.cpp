// CudaBackend's forward pass: the layer sequence for a batch (prefill) or one token (decode, as a
// captured CUDA graph), the logits, and the products' choice of kernel. Loading is
// cuda_backend_load.cpp.
#include "runtime/cuda/cuda_backend.hpp"

#include <optional>
#include <string>

#include "cuda/argmax.cuh"
#include "cuda/attention.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/embedding.cuh"
#include "cuda/launch_scope.hpp"
#include "cuda/quant_gemv.cuh"
#include "cuda/quant_matmul.cuh"
#include "cuda/rmsnorm.cuh"
#include "cuda/rope.cuh"
#include "cuda/swiglu.cuh"
#include "runtime/cuda/backend_settings.hpp"

namespace llama_worker::runtime::cuda {
namespace kc = kernels::cuda;

namespace {

kc::RopeStyle kernel_rope_style(model::RopeStyle style) {
  return style == model::RopeStyle::kNeox ? kc::RopeStyle::kNeox : kc::RopeStyle::kNormal;
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
  p.int8_activations = decode_int8_;  // one token only (quant_gemv)
  return kc::quant_matmul(p, stream_);
}

Result<bool> CudaBackend::residual_product_then_norm(const DeviceMatrix& w, const float* input,
                                                     const float* norm_weight) {
  const model::ModelConfig& c = adapter_.config();
  if ((decode_fusion_ & kDecodeFusionTailNorm) == 0 ||
      !kc::quant_gemv_supports(w.type, w.data, w.row_bytes, w.in_features, input)) {
    LW_TRY(product(w, input, 1, x_, c.embedding_width, nullptr, x_));
    return false;
  }
  kc::QuantGemvParams p;
  p.y = x_;
  p.x = input;
  p.weight = w.data;
  p.weight_type = w.type;
  p.weight_row_bytes = w.row_bytes;
  p.residual = x_;
  p.in_features = w.in_features;
  p.out_features = w.out_features;
  p.norm_out = normed_;
  p.norm_out_weight = norm_weight;
  p.norm_out_eps = c.rms_norm_eps;
  p.norm_counter = norm_counter_;
  p.int8_activations = decode_int8_;  // (the int8 form has no output norm: fp32 here)
  LW_TRY(kc::quant_gemv(p, stream_));
  return true;
}

Status CudaBackend::enqueue_embedding(const int32_t* tokens, int64_t n) {
  kc::EmbeddingParams embedding;
  embedding.out = x_;
  embedding.tokens = tokens;
  embedding.token_count = n;
  embedding.table = token_embd_.data;
  embedding.table_type = token_embd_.type;
  embedding.table_row_bytes = token_embd_.row_bytes;
  embedding.vocab = adapter_.config().vocab_size;
  embedding.width = adapter_.config().embedding_width;
  embedding.error_flag = device_error_flag_;
  return kc::embedding_lookup(embedding, stream_);
}

kc::RopeParams CudaBackend::qkv_rope_params(const int32_t* positions, int64_t n) const {
  const model::ModelConfig& c = adapter_.config();
  kc::RopeParams rope;
  rope.positions = positions;
  rope.tokens = n;
  rope.head_dim = c.head_dim;
  rope.rotary_dims = c.rope_dims;
  rope.token_stride = c.q_width() + 2 * c.kv_width();
  rope.freq_base = c.rope_freq_base;
  rope.freq_scale = c.rope_freq_scale;
  rope.style = kernel_rope_style(adapter_.block().rope_style);
  // Q heads and K heads are adjacent in each qkv row: one launch rotates both.
  rope.x = qkv_;
  rope.heads = c.head_count + c.kv_head_count;
  rope.v = qkv_ + c.q_width() + c.kv_width();  // the V heads, stored by the launch that stores K
  rope.kv_head_begin = c.head_count;
  return rope;
}

Status CudaBackend::enqueue_layers(int64_t n) {
  const model::ModelConfig& c = adapter_.config();
  const model::BlockSpec& spec = adapter_.block();
  const int64_t embd = c.embedding_width, qw = c.q_width(), kvw = c.kv_width(), ff = c.feed_forward_width;
  const int64_t qkv = qw + 2 * kvw;

  LW_TRY(enqueue_embedding(device_tokens_, n));

  // Decode: whether normed_ already holds this layer's attention input (the previous layer's down
  // product computed it in its tail) and, after the last layer, the logits' input.
  bool attention_input_ready = false;
  logits_input_normed_ = false;
  for (size_t layer_index = 0; layer_index < layers_.size(); ++layer_index) {
    const DeviceLayer& layer = layers_[layer_index];
    const float* next_norm =
        layer_index + 1 < layers_.size() ? layers_[layer_index + 1].attn_norm : output_norm_;
    // Decode: the attention norm and the Q/K/V products (stored fused or apart) in one launch.
    const bool fuse_norm = (decode_fusion_ & kDecodeFusionAttentionNorm) != 0 && !attention_input_ready;
    kc::QuantGemvMultiParams qkv_product;
    qkv_product.x = fuse_norm ? x_ : normed_;
    qkv_product.in_features = embd;
    qkv_product.norm_weight = fuse_norm ? layer.attn_norm : nullptr;
    qkv_product.norm_eps = c.rms_norm_eps;
    qkv_product.int8_activations = decode_int8_;
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
    bool fused_decode =
        n == 1 && (fuse_norm || (!spec.fused_qkv && (decode_fusion_ & kDecodeFusionQkvLaunch) != 0));
    if (fused_decode && spec.fused_qkv) {
      fused_decode = add_segment(layer.wqkv, qkv_, nullptr);
    } else if (fused_decode) {
      fused_decode = add_segment(layer.wq, qkv_, layer.bq) && add_segment(layer.wk, qkv_ + qw, layer.bk) &&
                     add_segment(layer.wv, qkv_ + qw + kvw, layer.bv);
    }
    if (fused_decode) {
      if (!fuse_norm && !attention_input_ready) {
        LW_TRY(kc::rmsnorm_f32(normed_, x_, layer.attn_norm, n, embd, c.rms_norm_eps, stream_));
      }
      LW_TRY(kc::quant_gemv_multi(qkv_product, stream_));
    } else {
      if (!attention_input_ready)
        LW_TRY(kc::rmsnorm_f32(normed_, x_, layer.attn_norm, n, embd, c.rms_norm_eps, stream_));
      if (spec.fused_qkv) {
        LW_TRY(product(layer.wqkv, normed_, n, qkv_, qkv, nullptr, nullptr));
      } else {
        LW_TRY(product(layer.wq, normed_, n, qkv_, qkv, layer.bq, nullptr));
        LW_TRY(product(layer.wk, normed_, n, qkv_ + qw, qkv, layer.bk, nullptr));
        LW_TRY(product(layer.wv, normed_, n, qkv_ + qw + kvw, qkv, layer.bv, nullptr));
      }
    }
    kc::RopeParams rope = qkv_rope_params(device_positions_, n);
    // The same launch writes the rotated K heads and the V heads to the cache.
    rope.k_cache = layer.k_cache;
    rope.v_cache = layer.v_cache;
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
    attention.tensor_cores = tensor_core_attention_;
    attention.grouped_decode = grouped_attention_;
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
    attention_input_ready = false;
    if (n == 1) {
      // Decode: the feed-forward norm in the tail of the attention output product where it can.
      bool feed_forward_input_ready = false;
      LW_ASSIGN_OR_RETURN(feed_forward_input_ready,
                          residual_product_then_norm(layer.wo, attention_, layer.ffn_norm));
      // The feed-forward norm, gate, up and SwiGLU in one pass when the decode kernel takes both
      // matrices.
      const DeviceMatrix& gate = spec.fused_gate_up ? layer.w_up : layer.w_gate;
      const uint8_t* up = spec.fused_gate_up ? layer.w_up.data + ff * layer.w_up.row_bytes : layer.w_up.data;
      const bool same_type = spec.fused_gate_up || (layer.w_gate.type == layer.w_up.type &&
                                                    layer.w_gate.row_bytes == layer.w_up.row_bytes);
      const bool fuse_ffn_norm =
          (decode_fusion_ & kDecodeFusionFeedForwardNorm) != 0 && !feed_forward_input_ready;
      if (same_type && kc::quant_gemv_supports(gate.type, gate.data, gate.row_bytes, embd, x_) &&
          kc::quant_gemv_supports(gate.type, up, gate.row_bytes, embd, x_)) {
        if (!fuse_ffn_norm && !feed_forward_input_ready) {
          LW_TRY(kc::rmsnorm_f32(normed_, x_, layer.ffn_norm, n, embd, c.rms_norm_eps, stream_));
        }
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
        fused.int8_activations = decode_int8_;
        LW_TRY(kc::quant_gemv(fused, stream_));
        LW_ASSIGN_OR_RETURN(attention_input_ready,
                            residual_product_then_norm(layer.w_down, activated_, next_norm));
        continue;
      }
      if (!feed_forward_input_ready)
        LW_TRY(kc::rmsnorm_f32(normed_, x_, layer.ffn_norm, n, embd, c.rms_norm_eps, stream_));
    } else {
      LW_TRY(product(layer.wo, attention_, n, x_, embd, nullptr, x_));
      LW_TRY(kc::rmsnorm_f32(normed_, x_, layer.ffn_norm, n, embd, c.rms_norm_eps, stream_));
    }
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
    if (n == 1) {
      LW_ASSIGN_OR_RETURN(attention_input_ready,
                          residual_product_then_norm(layer.w_down, activated_, next_norm));
    } else {
      LW_TRY(product(layer.w_down, activated_, n, x_, embd, nullptr, x_, 2 * ff));
    }
  }
  logits_input_normed_ = attention_input_ready;  // after the last layer: output_norm(x_)
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
    product.int8_activations = decode_int8_;
    return kc::quant_gemv(product, stream_);
  }
  if (!(rows == 1 && first == 0 && logits_input_normed_)) {
    LW_TRY(kc::rmsnorm_f32(normed_, x, output_norm_, rows, c.embedding_width, c.rms_norm_eps, stream_));
  }
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
  LW_CUDA_TRY(cudaMemcpyAsync(device_tokens_, pinned_ids_, static_cast<size_t>(n * 4), cudaMemcpyHostToDevice,
                              stream_));
  LW_CUDA_TRY(cudaMemcpyAsync(device_positions_, pinned_ids_ + plan_.max_batch, static_cast<size_t>(n * 4),
                              cudaMemcpyHostToDevice, stream_));
  const bool want_all = mode == LogitsMode::kAllPositions;
  const int64_t first_row = want_all ? 0 : n - 1;
  // One-token steps: PDL as LLAMA_WORKER_DECODE_PDL says where it is set (a graph keeps the choice
  // it was captured with).
  std::optional<kc::ProgrammaticLaunchScope> programmatic;
  if (n == 1 && decode_pdl_.has_value()) programmatic.emplace(*decode_pdl_);
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
                                                  " new tokens exceed the context of " +
                                                  std::to_string(plan_.context) + " positions");
  }
  for (int64_t t = 0; t < n; ++t) {
    const int32_t id = tokens[static_cast<size_t>(t)];
    if (id < 0 || id >= c.vocab_size) {
      return make_error(ErrorCode::kInvalidArgument,
                        "token id " + std::to_string(id) + " at position " + std::to_string(t) +
                            " is outside the vocabulary of " + std::to_string(c.vocab_size));
    }
  }
  logits.clear();
  for (int64_t begin = 0; begin < n; begin += plan_.max_batch) {
    const int64_t count = n - begin < plan_.max_batch ? n - begin : plan_.max_batch;
    const bool last_chunk = begin + count == n;
    std::vector<float> chunk_logits;
    const LogitsMode chunk_mode =
        mode == LogitsMode::kAllPositions ? LogitsMode::kAllPositions : LogitsMode::kLastPosition;
    LW_TRY(run_batch(tokens.subspan(static_cast<size_t>(begin), static_cast<size_t>(count)), chunk_mode,
                     chunk_logits));
    if (mode == LogitsMode::kAllPositions || last_chunk)
      logits.insert(logits.end(), chunk_logits.begin(), chunk_logits.end());
  }
  return Status::ok();
}

}  // namespace llama_worker::runtime::cuda
