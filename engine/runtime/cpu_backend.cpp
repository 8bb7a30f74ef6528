#include "runtime/cpu_backend.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>

#include "cpu/attention.hpp"
#include "cpu/embedding.hpp"
#include "cpu/matmul.hpp"
#include "cpu/parallel.hpp"
#include "cpu/residual_add.hpp"
#include "cpu/rmsnorm.hpp"
#include "cpu/rope.hpp"
#include "cpu/swiglu.hpp"
#include "quant/dequantize.hpp"
#include "runtime/cpu_threads.hpp"

namespace llama_worker::runtime {
namespace {

namespace cpu = kernels::cpu;

Result<std::vector<float>> vector_f32(const model::WeightView& view) {
  std::vector<float> values;
  if (!view.present()) return values;
  values.resize(static_cast<size_t>(view.row_length * view.rows));
  for (int64_t r = 0; r < view.rows; ++r) {
    LW_TRY(quant::dequantize_row(view.type, view.data + r * view.row_bytes,
                                 values.data() + r * view.row_length, view.row_length));
  }
  return values;
}

cpu::RopeStyle kernel_rope_style(model::RopeStyle style) {
  return style == model::RopeStyle::kNeox ? cpu::RopeStyle::kNeox : cpu::RopeStyle::kNormal;
}

int64_t matmul_weight_bytes_f32(const model::ModelWeights& w) {
  auto bytes = [](const model::WeightView& v) { return v.present() ? v.row_length * v.rows * 4 : 0; };
  int64_t total = bytes(w.output);
  for (const model::LayerWeights& l : w.layers) {
    total += bytes(l.wq) + bytes(l.wk) + bytes(l.wv) + bytes(l.wqkv) + bytes(l.wo) + bytes(l.w_gate) +
             bytes(l.w_up) + bytes(l.w_down);
  }
  return total;
}

}  // namespace

Result<std::unique_ptr<CpuBackend>> CpuBackend::create(const gguf::File& file,
                                                       const CpuBackendOptions& options) {
  LW_ASSIGN_OR_RETURN(model::LlamaInferenceAdapter adapter, model::LlamaInferenceAdapter::create(file));
  if (options.sliding_window) LW_TRY(adapter.enable_sliding_window());
  std::unique_ptr<CpuBackend> backend(new CpuBackend(std::move(adapter)));
  LW_TRY(backend->prepare(options));
  return backend;
}

Result<CpuBackend::Matrix> CpuBackend::prepare_matrix(const model::WeightView& view, bool dequantize) const {
  Matrix m;
  if (!view.present()) return m;
  m.in_features = view.row_length;
  m.out_features = view.rows;
  if (!dequantize) {
    // A copy, not the mapping: after the load nothing reads the file (see the header).
    m.type = view.type;
    m.raw.assign(view.data, view.data + view.rows * view.row_bytes);
    m.data = m.raw.data();
    m.row_bytes = view.row_bytes;
    return m;
  }
  m.owned.resize(static_cast<size_t>(view.row_length * view.rows));
  std::mutex failure_mutex;
  Status failure;
  cpu::parallel_for(view.rows, threads_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      Status row = quant::dequantize_row(view.type, view.data + r * view.row_bytes,
                                         m.owned.data() + r * view.row_length, view.row_length);
      if (!row) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        failure = row;
        return;
      }
    }
  });
  if (!failure) return make_error(failure.code(), "tensor '" + view.name() + "': " + failure.message());
  m.type = gguf::TensorType::kF32;
  m.data = reinterpret_cast<const uint8_t*>(m.owned.data());
  m.row_bytes = view.row_length * 4;
  return m;
}

Status CpuBackend::prepare(const CpuBackendOptions& options) {
  const model::ModelConfig& c = adapter_.config();
  const model::ModelWeights& w = adapter_.weights();
  LW_ASSIGN_OR_RETURN(threads_, cpu_thread_count(options.threads));
  if (options.context < 0) return make_error(ErrorCode::kInvalidArgument, "context must not be negative");
  capacity_ = options.context > 0 ? options.context : std::min(c.context_length, kDefaultContext);
  if (capacity_ > c.context_length) {
    return make_error(ErrorCode::kOutOfRange, "context " + std::to_string(capacity_) +
                                                  " exceeds the model's context length " +
                                                  std::to_string(c.context_length));
  }
  switch (options.weights) {
    case WeightStorage::kDequantizeAtLoad:
      dequantized_ = true;
      break;
    case WeightStorage::kDecodePerRow:
      dequantized_ = false;
      break;
    case WeightStorage::kAuto:
      dequantized_ = matmul_weight_bytes_f32(w) <= options.max_dequantized_bytes;
      break;
  }

  token_embedding_.assign(w.token_embd.data, w.token_embd.data + w.token_embd.rows * w.token_embd.row_bytes);
  LW_ASSIGN_OR_RETURN(output_norm_, vector_f32(w.output_norm));
  LW_ASSIGN_OR_RETURN(output_, prepare_matrix(w.output, dequantized_));
  layers_.resize(w.layers.size());
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const model::LayerWeights& src = w.layers[i];
    Layer& dst = layers_[i];
    LW_ASSIGN_OR_RETURN(dst.attn_norm, vector_f32(src.attn_norm));
    LW_ASSIGN_OR_RETURN(dst.ffn_norm, vector_f32(src.ffn_norm));
    LW_ASSIGN_OR_RETURN(dst.bq, vector_f32(src.bq));
    LW_ASSIGN_OR_RETURN(dst.bk, vector_f32(src.bk));
    LW_ASSIGN_OR_RETURN(dst.bv, vector_f32(src.bv));
    LW_ASSIGN_OR_RETURN(dst.wq, prepare_matrix(src.wq, dequantized_));
    LW_ASSIGN_OR_RETURN(dst.wk, prepare_matrix(src.wk, dequantized_));
    LW_ASSIGN_OR_RETURN(dst.wv, prepare_matrix(src.wv, dequantized_));
    LW_ASSIGN_OR_RETURN(dst.wqkv, prepare_matrix(src.wqkv, dequantized_));
    LW_ASSIGN_OR_RETURN(dst.wo, prepare_matrix(src.wo, dequantized_));
    LW_ASSIGN_OR_RETURN(dst.w_gate, prepare_matrix(src.w_gate, dequantized_));
    LW_ASSIGN_OR_RETURN(dst.w_up, prepare_matrix(src.w_up, dequantized_));
    LW_ASSIGN_OR_RETURN(dst.w_down, prepare_matrix(src.w_down, dequantized_));
    dst.k_cache.assign(static_cast<size_t>(capacity_ * c.kv_width()), 0.0f);
    dst.v_cache.assign(static_cast<size_t>(capacity_ * c.kv_width()), 0.0f);
  }
  return Status::ok();
}

Status CpuBackend::matmul(const Matrix& w, const float* x, int64_t rows, float* y, const float* bias) const {
  return cpu::matmul_f32({.y = y,
                          .x = x,
                          .weight = w.data,
                          .weight_type = w.type,
                          .weight_row_bytes = w.row_bytes,
                          .bias = bias,
                          .rows = rows,
                          .in_features = w.in_features,
                          .out_features = w.out_features,
                          .threads = threads_});
}

// x += Wdown (silu(Wgate m) * (Wup m)), m = rmsnorm(x), over n rows: the feed-forward half of a
// block, shared by forward() and forward_batch() (row-wise: each row's bits depend on that row only).
Status CpuBackend::feed_forward(const Layer& layer, int64_t n, float* x, float* normed, float* gate_up,
                                float* activated, float* projected) const {
  const model::ModelConfig& c = adapter_.config();
  const model::BlockSpec& spec = adapter_.block();
  const int64_t embd = c.embedding_width, ff = c.feed_forward_width;
  cpu::rmsnorm_f32(normed, x, layer.ffn_norm.data(), n, embd, c.rms_norm_eps);
  cpu::SwigluParams swiglu{.out = activated, .rows = n, .width = ff};
  if (spec.fused_gate_up) {
    LW_TRY(matmul(layer.w_up, normed, n, gate_up));  // (n, 2 ff): gate | up
    swiglu.gate = gate_up;
    swiglu.up = gate_up + ff;
    swiglu.gate_row_stride = swiglu.up_row_stride = 2 * ff;
  } else {
    LW_TRY(matmul(layer.w_gate, normed, n, gate_up));
    LW_TRY(matmul(layer.w_up, normed, n, gate_up + n * ff));
    swiglu.gate = gate_up;
    swiglu.up = gate_up + n * ff;
    swiglu.gate_row_stride = swiglu.up_row_stride = ff;
  }
  cpu::swiglu_f32(swiglu);
  LW_TRY(matmul(layer.w_down, activated, n, projected));
  cpu::residual_add_f32(x, x, projected, n * embd);
  return Status::ok();
}

Status CpuBackend::forward(std::span<const int32_t> tokens, LogitsMode mode, std::vector<float>& logits) {
  const model::ModelConfig& c = adapter_.config();
  const model::BlockSpec& spec = adapter_.block();
  const model::ModelWeights& w = adapter_.weights();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return make_error(ErrorCode::kInvalidArgument, "forward: no tokens");
  if (position_ + n > capacity_) {
    return make_error(ErrorCode::kOutOfRange, std::to_string(position_) + " cached + " + std::to_string(n) +
                                                  " new tokens exceed the context of " +
                                                  std::to_string(capacity_) + " positions");
  }
  const int64_t embd = c.embedding_width, qw = c.q_width(), kvw = c.kv_width(), ff = c.feed_forward_width;
  const int64_t p0 = position_;

  // Activations of this batch, (n, width) each.
  std::vector<float> x(static_cast<size_t>(n * embd)), normed(x.size()),
      attn_out(static_cast<size_t>(n * qw));
  std::vector<float> q(static_cast<size_t>(n * qw)), k(static_cast<size_t>(n * kvw)), v(k.size());
  std::vector<float> projected(x.size());
  std::vector<float> gate_up(static_cast<size_t>(n * 2 * ff)), activated(static_cast<size_t>(n * ff));
  std::vector<float> qkv(spec.fused_qkv ? static_cast<size_t>(n * (qw + 2 * kvw)) : 0);

  LW_TRY(cpu::embedding_lookup_f32({.out = x.data(),
                                    .tokens = tokens.data(),
                                    .token_count = n,
                                    .table = token_embedding_.data(),
                                    .table_type = w.token_embd.type,
                                    .table_row_bytes = w.token_embd.row_bytes,
                                    .vocab = c.vocab_size,
                                    .width = embd}));

  for (Layer& layer : layers_) {
    // Attention: n = rmsnorm(x); q, k, v projections (+ bias); RoPE; append K/V; attend; Wo.
    cpu::rmsnorm_f32(normed.data(), x.data(), layer.attn_norm.data(), n, embd, c.rms_norm_eps);
    if (spec.fused_qkv) {
      LW_TRY(matmul(layer.wqkv, normed.data(), n, qkv.data()));
      for (int64_t t = 0; t < n; ++t) {
        const float* row = qkv.data() + t * (qw + 2 * kvw);
        std::memcpy(q.data() + t * qw, row, sizeof(float) * qw);
        std::memcpy(k.data() + t * kvw, row + qw, sizeof(float) * kvw);
        std::memcpy(v.data() + t * kvw, row + qw + kvw, sizeof(float) * kvw);
      }
    } else {
      LW_TRY(matmul(layer.wq, normed.data(), n, q.data(), spec.qkv_bias ? layer.bq.data() : nullptr));
      LW_TRY(matmul(layer.wk, normed.data(), n, k.data(), spec.qkv_bias ? layer.bk.data() : nullptr));
      LW_TRY(matmul(layer.wv, normed.data(), n, v.data(), spec.qkv_bias ? layer.bv.data() : nullptr));
    }
    cpu::RopeParams rope{.tokens = n,
                         .head_dim = c.head_dim,
                         .rotary_dims = c.rope_dims,
                         .position_offset = p0,
                         .freq_base = c.rope_freq_base,
                         .freq_scale = c.rope_freq_scale,
                         .style = kernel_rope_style(spec.rope_style)};
    rope.x = q.data();
    rope.heads = c.head_count;
    cpu::rope_f32(rope);
    rope.x = k.data();
    rope.heads = c.kv_head_count;
    cpu::rope_f32(rope);
    std::memcpy(layer.k_cache.data() + p0 * kvw, k.data(), sizeof(float) * n * kvw);
    std::memcpy(layer.v_cache.data() + p0 * kvw, v.data(), sizeof(float) * n * kvw);
    cpu::attention_f32({.out = attn_out.data(),
                        .q = q.data(),
                        .k = layer.k_cache.data(),
                        .v = layer.v_cache.data(),
                        .q_tokens = n,
                        .kv_tokens = p0 + n,
                        .heads = c.head_count,
                        .kv_heads = c.kv_head_count,
                        .head_dim = c.head_dim,
                        .q_position_offset = p0,
                        .sliding_window = spec.sliding_window,
                        .threads = threads_});
    LW_TRY(matmul(layer.wo, attn_out.data(), n, projected.data()));
    cpu::residual_add_f32(x.data(), x.data(), projected.data(), n * embd);

    LW_TRY(
        feed_forward(layer, n, x.data(), normed.data(), gate_up.data(), activated.data(), projected.data()));
  }

  // Final norm and logits, only for the rows the caller wants.
  const int64_t first = mode == LogitsMode::kAllPositions ? 0 : n - 1;
  const int64_t rows = n - first;
  cpu::rmsnorm_f32(normed.data(), x.data() + first * embd, output_norm_.data(), rows, embd, c.rms_norm_eps);
  logits.resize(static_cast<size_t>(rows * c.vocab_size));
  LW_TRY(matmul(output_, normed.data(), rows, logits.data()));
  position_ += n;
  return Status::ok();
}

}  // namespace llama_worker::runtime
