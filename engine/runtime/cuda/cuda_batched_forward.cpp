// CudaBackend's batched forward over the paged fp16 KV pool (batched_backend.hpp).
//
// The rows of every entry are stacked (entry order) and run in passes of at most max_batch rows
// through the ops of the Llama block, each of which gives a row the same bits whatever else is
// in the pass:
//   embedding, RMSNorm, RoPE, SwiGLU   row-wise kernels (one block per row or element-wise);
//   every matrix product               fragment_mma over the fragment copy made when the pool is
//                                      first allocated (default; Q4_K / Q6_K coded, others fp16), or
//                                      quant_mma_columns (tensor cores) / quant_gemv_columns (CUDA cores)
//                                      over the file's blocks, chosen per matrix: a column's sums run in one
//                                      fixed order for 1..any columns;
//   K/V store and attention            paged_kv_store / paged_attention: per query row over its
//                                      own sequence's blocks, no split chosen from the batch.
// So an entry's logits and the K/V it writes do not depend on the other entries, their number or
// their order — nor on how a prompt is cut into chunks or passes (a row sees the K/V the earlier
// rows of its sequence stored, in this pass or an earlier one). gpu_cuda_batched_tests check it.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/argmax.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/embedding.cuh"
#include "cuda/fragment_mma.cuh"
#include "cuda/gather_rows.cuh"
#include "cuda/launch_scope.hpp"
#include "cuda/paged_kv.cuh"
#include "cuda/quant_gemv.cuh"
#include "cuda/quant_mma_columns.cuh"
#include "cuda/rmsnorm.cuh"
#include "cuda/rope.cuh"
#include "cuda/swiglu.cuh"
#include "runtime/cuda/cuda_backend.hpp"

namespace llama_worker::runtime::cuda {
namespace kc = kernels::cuda;

namespace {

// kc::rmsnorm_f32 launched with programmatic dependent launch or not (backend_settings.hpp).
Status rmsnorm_with_pdl(bool pdl, float* out, const float* x, const float* weight, int64_t rows,
                        int64_t width, float eps, cudaStream_t stream, __half* packed) {
  const kc::ProgrammaticLaunchScope programmatic(pdl);
  return kc::rmsnorm_f32(out, x, weight, rows, width, eps, stream, packed);
}

}  // namespace

kv_pool::KvGeometry CudaBackend::kv_geometry() const {
  return {.layers = static_cast<int64_t>(layers_.size()),
          .kv_width = config().kv_width(),
          .bytes_per_element = 2};
}

Status CudaBackend::allocate_kv_blocks(const kv_pool::KvPoolPlan& plan) {
  const kv_pool::KvGeometry mine = kv_geometry();
  if (plan.geometry.layers != mine.layers || plan.geometry.kv_width != mine.kv_width ||
      plan.geometry.bytes_per_element != mine.bytes_per_element) {
    return make_error(ErrorCode::kInvalidArgument,
                      "allocate_kv_blocks: the plan is for another model's geometry");
  }
  if (plan.blocks_total <= 0 || plan.block_positions <= 0 || plan.blocks_per_sequence <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "allocate_kv_blocks: the plan has no blocks");
  }
  if (!kc::paged_attention_supports_head_dim(config().head_dim)) {
    return make_error(
        ErrorCode::kUnsupported,
        "several inferences on the CUDA backend need a head dimension of 64, 96 or 128 (the paged "
        "attention's); this model's is " +
            std::to_string(config().head_dim));
  }
  LW_CUDA_TRY(cudaSetDevice(device_));
  LW_CUDA_TRY(cudaStreamSynchronize(stream_));
  destroy_batched_graphs();  // they point into the buffers replaced below
  paged_kv_ = {};
  batch_meta_ = {};
  pinned_batch_meta_buffer_ = {};
  x_packed_buffer_ = {};
  batched_logits_ = {};
  argmax_workspace_ = {};
  pinned_batched_logits_ = {};
  paged_plan_ = {};
  const model::ModelConfig& c = adapter_.config();
  const int64_t b = plan_.max_batch;
  const int64_t tables = b * std::min(plan.blocks_per_sequence, plan.blocks_total);
  const int64_t ints = 4 * b + kBatchedLogitsRows + tables;
  const bool fragments_wanted = batched_weights_setting_ != BatchedWeights::kQuant;
  const bool fragments_to_make = fragments_wanted && batched_weights_.bytes() == 0;
  const FragmentCopyPlan fragment_copy = fragments_to_make ? plan_batched_weights() : FragmentCopyPlan{};
  const int64_t widest = std::max({c.embedding_width, c.q_width(), c.feed_forward_width});
  const int64_t packed_halves =
      fragments_wanted ? kc::fragment_activation_halves(b, widest) : 0;  // per slot (two slots)
  const int64_t buffer_bytes = align_up(ints * 4) + align_up(2 * packed_halves * 2) +
                               align_up(kBatchedLogitsRows * c.vocab_size * 4) +
                               align_up(kc::argmax_rows_workspace_bytes(kBatchedLogitsRows));
  LW_TRY(check_batched_memory(plan, fragment_copy.bytes, buffer_bytes));
  if (fragments_to_make) LW_TRY(make_batched_weights(fragment_copy));
  measured_kv_pool_bytes_ = 0;
  size_t free_before = 0, free_after = 0, total = 0;
  LW_CUDA_TRY(cudaMemGetInfo(&free_before, &total));
  auto pool = DeviceAllocation::allocate(plan.bytes_total, "paged kv pool");
  if (!pool) {
    return make_error(ErrorCode::kOutOfMemory,
                      "allocate_kv_blocks: cannot allocate " + plan.describe() + ": " + pool.error().message);
  }
  LW_CUDA_TRY(cudaMemGetInfo(&free_after, &total));  // the pool alone, before the batch scratch
  measured_kv_pool_bytes_ = static_cast<int64_t>(free_before) - static_cast<int64_t>(free_after);
  LW_ASSIGN_OR_RETURN(batch_meta_, DeviceAllocation::allocate(ints * 4, "batch metadata"));
  if (batched_weights_.bytes() > 0) {
    // Two slots: the SwiGLU form reads its packed input from slot 0 while it writes the down
    // product's into slot 1 (one slot would let a block overwrite inputs another still reads).
    packed_slot_halves_ = kc::fragment_activation_halves(b, widest);
    LW_ASSIGN_OR_RETURN(x_packed_buffer_,
                        DeviceAllocation::allocate(2 * packed_slot_halves_ * 2, "packed activations"));
    // Producers that pack (RMSNorm, the SwiGLU form) write only real columns: the padding starts zero.
    LW_CUDA_TRY(
        cudaMemsetAsync(x_packed_buffer_.data(), 0, static_cast<size_t>(x_packed_buffer_.bytes()), stream_));
  }
  LW_ASSIGN_OR_RETURN(batched_logits_,
                      DeviceAllocation::allocate(kBatchedLogitsRows * c.vocab_size * 4, "batched logits"));
  LW_ASSIGN_OR_RETURN(
      argmax_workspace_,
      DeviceAllocation::allocate(kc::argmax_rows_workspace_bytes(kBatchedLogitsRows), "greedy workspace"));
  LW_ASSIGN_OR_RETURN(
      pinned_batched_logits_,
      PinnedHostBuffer::allocate(kBatchedLogitsRows * c.vocab_size * 4, "batched logits staging"));
  // Staging: the uploaded layout, then the greedy tokens of one logits pass coming back.
  LW_ASSIGN_OR_RETURN(pinned_batch_meta_buffer_,
                      PinnedHostBuffer::allocate((ints + kBatchedLogitsRows) * 4, "batch metadata staging"));
  paged_kv_ = std::move(*pool);
  // Zeros: a pool position is always written before it is read, but a stale read stays reproducible.
  LW_CUDA_TRY(cudaMemsetAsync(paged_kv_.data(), 0, static_cast<size_t>(paged_kv_.bytes()), stream_));
  auto* meta = reinterpret_cast<int32_t*>(batch_meta_.data());
  batch_tokens_ = meta;
  batch_positions_ = meta + b;
  batch_row_tables_ = meta + 2 * b;
  batch_gather_ = meta + 3 * b;
  batch_greedy_ = meta + 4 * b;
  batch_tables_ = meta + 4 * b + kBatchedLogitsRows;
  pinned_batch_meta_ = reinterpret_cast<int32_t*>(pinned_batch_meta_buffer_.data());
  pinned_greedy_ = pinned_batch_meta_ + ints;
  batch_meta_ints_ = ints;
  LW_CUDA_TRY(cudaStreamSynchronize(stream_));
  paged_plan_ = plan;
  return Status::ok();
}

Status CudaBackend::check_batched_memory(const kv_pool::KvPoolPlan& plan, int64_t fragment_bytes,
                                         int64_t buffer_bytes) const {
  size_t free_bytes = 0, total_bytes = 0;
  LW_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  const int64_t needed = plan.bytes_total + fragment_bytes + buffer_bytes;
  // The load's budget covered its own plan; what it leaves is for these.
  const int64_t budget_left = vram_budget_bytes_ > 0 ? vram_budget_bytes_ - plan_.total_bytes() : -1;
  const auto free_now = static_cast<int64_t>(free_bytes);
  const int64_t available = budget_left >= 0 && budget_left < free_now ? budget_left : free_now;
  if (needed <= available) return Status::ok();
  return make_error(
      ErrorCode::kOutOfMemory,
      "several inferences on model '" + adapter_.config().name + "' need " + mib(needed) +
          " MiB more on the device (KV pool " + mib(plan.bytes_total) + ": " +
          std::to_string(plan.blocks_total) + " blocks of " + std::to_string(plan.block_positions) +
          " positions; fragment weights " + mib(fragment_bytes) + "; batch buffers " + mib(buffer_bytes) +
          ") but " + mib(available) + " MiB are available (free " + mib(free_now) + " MiB, budget " +
          (budget_left >= 0
               ? mib(budget_left) + " MiB left after the load's " + mib(plan_.total_bytes()) + " MiB"
               : std::string("none")) +
          "); fewer max_inferences or a shorter context need less" +
          (fragment_bytes > 0 ? ", LLAMA_WORKER_BATCHED_WEIGHTS=quant no fragment copy" : ""));
}

CudaBackend::FragmentCopyPlan CudaBackend::plan_batched_weights() {
  const model::ModelConfig& c = adapter_.config();
  const model::BlockSpec& spec = adapter_.block();
  std::vector<DeviceMatrix*> matrices;
  for (DeviceLayer& layer : layers_) {
    for (DeviceMatrix* m : {&layer.wqkv, &layer.wq, &layer.wk, &layer.wv, &layer.wo, &layer.w_gate,
                            &layer.w_up, &layer.w_down}) {
      // A fused gate/up matrix serves the SwiGLU form only if its up half starts on a row tile.
      if (m == &layer.w_up && spec.fused_gate_up && c.feed_forward_width % 16 != 0) continue;
      if (m->data != nullptr) matrices.push_back(m);
    }
  }
  matrices.push_back(&output_);
  FragmentCopyPlan copy;
  for (DeviceMatrix* m : matrices) {
    kc::FragmentForm form = batched_weights_setting_ == BatchedWeights::kCoded
                                ? kc::fragment_form_for(m->type)
                                : kc::FragmentForm::kHalf;
    if (!kc::fragment_form_supports(form, m->type, m->in_features)) form = kc::FragmentForm::kHalf;
    if (!kc::fragment_form_supports(form, m->type, m->in_features)) continue;
    copy.matrices.emplace_back(m, form);
    copy.bytes += kc::fragment_weight_bytes(form, m->out_features, m->in_features);  // multiples of 16
  }
  return copy;
}

Status CudaBackend::make_batched_weights(const FragmentCopyPlan& copy) {
  const int64_t bytes = copy.bytes;
  if (bytes == 0) return Status::ok();
  auto allocation = DeviceAllocation::allocate(bytes, "batched fragment weights");
  if (!allocation) {
    return make_error(ErrorCode::kOutOfMemory,
                      "the batched step's fragment weights need " + std::to_string(bytes / (1 << 20)) +
                          " MiB: " + allocation.error().message +
                          " (LLAMA_WORKER_BATCHED_WEIGHTS=quant reads the file's blocks instead)");
  }
  auto* next = static_cast<uint8_t*>(allocation->data());
  for (const auto& [m, form] : copy.matrices) {
    LW_TRY(kc::repack_to_fragments(next, form, m->data, m->type, m->row_bytes, m->out_features,
                                   m->in_features, stream_));
    m->fragments = next;
    m->fragment_form = form;
    next += kc::fragment_weight_bytes(form, m->out_features, m->in_features);
  }
  LW_CUDA_TRY(cudaStreamSynchronize(stream_));
  batched_weights_ = std::move(*allocation);
  return join_batched_qkv();
}

Status CudaBackend::join_batched_qkv() {
  const model::ModelConfig& c = adapter_.config();
  const int64_t qw = c.q_width(), kvw = c.kv_width(), qkv = qw + 2 * kvw;
  const auto follows = [](const DeviceMatrix& a, const DeviceMatrix& b) {
    return a.fragments != nullptr && b.fragments != nullptr && a.fragment_form == b.fragment_form &&
           a.out_features % 16 == 0 &&
           static_cast<const uint8_t*>(a.fragments) +
                   kc::fragment_weight_bytes(a.fragment_form, a.out_features, a.in_features) ==
               b.fragments;
  };
  std::vector<DeviceLayer*> joined;
  for (DeviceLayer& layer : layers_) {
    if (layer.wqkv.data == nullptr && follows(layer.wq, layer.wk) && follows(layer.wk, layer.wv))
      joined.push_back(&layer);
  }
  if (joined.empty()) return Status::ok();
  LW_ASSIGN_OR_RETURN(
      batched_qkv_biases_,
      DeviceAllocation::allocate(static_cast<int64_t>(joined.size()) * qkv * 4, "joined qkv biases"));
  auto* bias = reinterpret_cast<float*>(batched_qkv_biases_.data());
  LW_CUDA_TRY(cudaMemsetAsync(bias, 0, static_cast<size_t>(batched_qkv_biases_.bytes()), stream_));
  for (DeviceLayer* layer : joined) {
    struct Part {
      const float* source;
      int64_t offset, width;
    };
    for (const Part& part :
         {Part{layer->bq, 0, qw}, Part{layer->bk, qw, kvw}, Part{layer->bv, qw + kvw, kvw}}) {
      if (part.source == nullptr) continue;
      LW_CUDA_TRY(cudaMemcpyAsync(bias + part.offset, part.source, static_cast<size_t>(part.width * 4),
                                  cudaMemcpyDeviceToDevice, stream_));
    }
    layer->batched_qkv = layer->wq;
    layer->batched_qkv.out_features = qkv;
    layer->batched_qkv_bias = bias;
    bias += qkv;
  }
  LW_CUDA_TRY(cudaStreamSynchronize(stream_));
  return Status::ok();
}

bool CudaBackend::batched_on_tensor_cores(const DeviceMatrix& w) const {
  return batched_tensor_cores_ && kc::quant_mma_columns_supports(w.type, w.in_features);
}

bool CudaBackend::batched_swiglu_fits(const DeviceMatrix& gate, const DeviceMatrix& up_matrix,
                                      const uint8_t* up, const void* up_fragments) const {
  if (gate.fragments != nullptr || up_fragments != nullptr) {
    return gate.fragments != nullptr && up_fragments != nullptr &&
           gate.fragment_form == up_matrix.fragment_form;
  }
  if (batched_on_tensor_cores(gate)) return true;
  return kc::quant_gemv_supports(gate.type, gate.data, gate.row_bytes, gate.in_features, normed_) &&
         kc::quant_gemv_supports(gate.type, up, gate.row_bytes, gate.in_features, normed_);
}

Status CudaBackend::batched_product(const DeviceMatrix& w, const float* x, int64_t x_stride, int64_t rows,
                                    float* y, int64_t y_stride, const float* bias, const float* residual,
                                    const uint8_t* up, const void* up_fragments, __half* y_packed,
                                    int x_slot) {
  const kc::ProgrammaticLaunchScope programmatic((batched_pdl_ & kBatchedPdlProducts) != 0);
  if (w.fragments != nullptr) {  // x is packed: by batched_pack, RMSNorm or the SwiGLU form (packed_for)
    kc::FragmentMmaParams f;
    f.y = y;
    f.y_stride = y_stride;
    f.x = reinterpret_cast<const __half*>(x_packed_buffer_.data()) + x_slot * packed_slot_halves_;
    f.weight = w.fragments;
    f.up_weight = up_fragments;
    f.form = w.fragment_form;
    f.y_packed = y_packed;
    f.bias = bias;
    f.residual = residual;
    f.in_features = w.in_features;
    f.out_features = w.out_features;
    f.columns = rows;
    return kc::fragment_mma(f, stream_);
  }
  kc::QuantGemvColumnsParams p;
  p.y = y;
  p.y_stride = y_stride;
  p.x = x;
  p.x_stride = x_stride;
  p.weight = w.data;
  p.up_weight = up;
  p.weight_type = w.type;
  p.weight_row_bytes = w.row_bytes;
  p.bias = bias;
  p.residual = residual;
  p.in_features = w.in_features;
  p.out_features = w.out_features;
  p.columns = rows;
  if (batched_on_tensor_cores(w)) return kc::quant_mma_columns(p, stream_);
  return kc::quant_gemv_columns(p, stream_);
}

__half* CudaBackend::packed_for(int64_t width, int slot) const {
  if (x_packed_buffer_.bytes() == 0 || width % 16 != 0) return nullptr;
  return reinterpret_cast<__half*>(x_packed_buffer_.data()) + slot * packed_slot_halves_;
}

Status CudaBackend::batched_pack(const float* x, int64_t x_stride, int64_t rows, int64_t width) {
  if (x_packed_buffer_.bytes() == 0) return Status::ok();  // no fragment copies: the products read x
  return kc::pack_fragment_activations(reinterpret_cast<__half*>(x_packed_buffer_.data()), x, x_stride, rows,
                                       width, stream_);
}

Status CudaBackend::enqueue_batched_layers(int64_t n) {
  const model::ModelConfig& c = adapter_.config();
  const model::BlockSpec& spec = adapter_.block();
  const int64_t embd = c.embedding_width, qw = c.q_width(), kvw = c.kv_width(), ff = c.feed_forward_width;
  const int64_t qkv = qw + 2 * kvw;

  LW_TRY(enqueue_embedding(batch_tokens_, n));

  const int64_t slab = paged_plan_.slab_elements();
  auto* pool = reinterpret_cast<__half*>(paged_kv_.data());
  for (size_t layer_index = 0; layer_index < layers_.size(); ++layer_index) {
    const DeviceLayer& layer = layers_[layer_index];
    LW_TRY(rmsnorm_with_pdl((batched_pdl_ & kBatchedPdlNorms) != 0, normed_, x_, layer.attn_norm, n, embd,
                            c.rms_norm_eps, stream_, packed_for(embd)));
    if (spec.fused_qkv) {
      LW_TRY(batched_product(layer.wqkv, normed_, embd, n, qkv_, qkv, nullptr, nullptr));
    } else if (layer.batched_qkv.fragments != nullptr) {
      LW_TRY(
          batched_product(layer.batched_qkv, normed_, embd, n, qkv_, qkv, layer.batched_qkv_bias, nullptr));
    } else {
      LW_TRY(batched_product(layer.wq, normed_, embd, n, qkv_, qkv, layer.bq, nullptr));
      LW_TRY(batched_product(layer.wk, normed_, embd, n, qkv_ + qw, qkv, layer.bk, nullptr));
      LW_TRY(batched_product(layer.wv, normed_, embd, n, qkv_ + qw + kvw, qkv, layer.bv, nullptr));
    }
    kc::PagedKvLayout kv;
    kv.k = pool + (2 * static_cast<int64_t>(layer_index)) * slab;
    kv.v = pool + (2 * static_cast<int64_t>(layer_index) + 1) * slab;
    kv.block_stride = static_cast<int64_t>(layers_.size()) * 2 * slab;
    kv.block_positions = paged_plan_.block_positions;
    kv.kv_heads = c.kv_head_count;
    kv.head_dim = c.head_dim;
    kv.block_tables = batch_tables_;
    kv.row_table = batch_row_tables_;
    kv.row_positions = batch_positions_;
    // One launch rotates the Q and K heads and stores K and V into the pool.
    kc::RopeParams rope = qkv_rope_params(batch_positions_, n);
    rope.paged = kv;
    {
      const kc::ProgrammaticLaunchScope programmatic((batched_pdl_ & kBatchedPdlRope) != 0);
      LW_TRY(kc::rope_f32(rope, stream_));
    }
    kc::PagedAttentionParams attention;
    attention.out = attention_;
    attention.out_stride = qw;
    // The output projection's packed input written by the attention itself when wo takes fragments.
    attention.out_packed = layer.wo.fragments != nullptr ? packed_for(qw) : nullptr;
    attention.q = qkv_;
    attention.q_stride = qkv;
    attention.kv = kv;
    attention.rows = n;
    attention.heads = c.head_count;
    attention.sliding_window = spec.sliding_window;
    {
      const kc::ProgrammaticLaunchScope programmatic((batched_pdl_ & kBatchedPdlAttention) != 0);
      LW_TRY(kc::paged_attention(attention, stream_));
    }
    if (attention.out_packed == nullptr) LW_TRY(batched_pack(attention_, qw, n, qw));
    LW_TRY(batched_product(layer.wo, attention_, qw, n, x_, embd, nullptr, x_));

    LW_TRY(rmsnorm_with_pdl((batched_pdl_ & kBatchedPdlNorms) != 0, normed_, x_, layer.ffn_norm, n, embd,
                            c.rms_norm_eps, stream_, packed_for(embd)));
    // Gate, up and SwiGLU in one product where both matrices take the decode kernel alike (as the
    // decode step does), else two products and the SwiGLU kernel. The choice depends on the
    // weights only, never on the batch.
    const DeviceMatrix& gate = spec.fused_gate_up ? layer.w_up : layer.w_gate;
    const uint8_t* up = spec.fused_gate_up ? layer.w_up.data + ff * layer.w_up.row_bytes : layer.w_up.data;
    const bool same_type = spec.fused_gate_up || (layer.w_gate.type == layer.w_up.type &&
                                                  layer.w_gate.row_bytes == layer.w_up.row_bytes);
    const void* up_fragments =
        spec.fused_gate_up
            ? (gate.fragments != nullptr
                   ? static_cast<const uint8_t*>(gate.fragments) +
                         kc::fragment_row_offset_bytes(gate.fragment_form, ff, gate.in_features)
                   : nullptr)
            : layer.w_up.fragments;
    // The SwiGLU form writes the down product's packed input itself when both take fragments.
    __half* down_input = nullptr;
    if (same_type && batched_swiglu_fits(gate, layer.w_up, up, up_fragments)) {
      DeviceMatrix gate_rows = gate;
      gate_rows.out_features = ff;  // the gate half of a fused gate/up matrix
      if (gate.fragments != nullptr && layer.w_down.fragments != nullptr) down_input = packed_for(ff, 1);
      LW_TRY(batched_product(gate_rows, normed_, embd, n, activated_, 2 * ff, nullptr, nullptr, up,
                             up_fragments, down_input));
    } else {
      if (spec.fused_gate_up) {
        LW_TRY(batched_product(layer.w_up, normed_, embd, n, gate_up_, 2 * ff, nullptr, nullptr));
      } else {
        LW_TRY(batched_product(layer.w_gate, normed_, embd, n, gate_up_, 2 * ff, nullptr, nullptr));
        LW_TRY(batched_product(layer.w_up, normed_, embd, n, gate_up_ + ff, 2 * ff, nullptr, nullptr));
      }
      kc::SwigluParams swiglu;
      swiglu.out = activated_;
      swiglu.gate = gate_up_;
      swiglu.up = gate_up_ + ff;
      swiglu.rows = n;
      swiglu.width = ff;
      swiglu.gate_row_stride = 2 * ff;
      swiglu.up_row_stride = 2 * ff;
      swiglu.out_row_stride = 2 * ff;
      LW_TRY(kc::swiglu_f32(swiglu, stream_));
    }
    if (down_input == nullptr) LW_TRY(batched_pack(activated_, 2 * ff, n, ff));
    LW_TRY(batched_product(layer.w_down, activated_, 2 * ff, n, x_, embd, nullptr, x_, nullptr, nullptr,
                           nullptr, down_input != nullptr ? 1 : 0));
  }
  return Status::ok();
}

void CudaBackend::destroy_batched_graphs() {
  for (auto& [key, graph] : batched_graphs_) cudaGraphExecDestroy(graph);
  batched_graphs_.clear();
}

CudaBackend::BatchedLogitsCopy CudaBackend::batched_logits_copy(const std::vector<bool>& greedy_rows) {
  if (greedy_rows.empty()) return BatchedLogitsCopy::kNone;
  const auto greedy = std::count(greedy_rows.begin(), greedy_rows.end(), true);
  if (greedy == static_cast<std::ptrdiff_t>(greedy_rows.size())) return BatchedLogitsCopy::kGreedy;
  return greedy == 0 ? BatchedLogitsCopy::kLogits : BatchedLogitsCopy::kMixed;
}

Status CudaBackend::run_batched_pass(int64_t rows, const std::vector<bool>& greedy_rows,
                                     std::vector<float>& logits, std::vector<int32_t>& greedy) {
  const auto wanted = static_cast<int64_t>(greedy_rows.size());
  const BatchedLogitsCopy copy = batched_logits_copy(greedy_rows);
  // A decode pass (every row wants its logits, all greedy or none) replays one graph of its layers
  // and its logits pass; any other pass a graph of its layers, then the logits pass launched plainly.
  const bool logits_in_graph = wanted == rows && wanted <= kBatchedLogitsRows &&
                               (copy == BatchedLogitsCopy::kGreedy || copy == BatchedLogitsCopy::kLogits);
  if (!use_graph_ || rows > kBatchedGraphRows) {
    LW_TRY(enqueue_batched_layers(rows));
  } else {
    const BatchedGraphKey key{rows, logits_in_graph ? copy : BatchedLogitsCopy::kNone};
    auto found = batched_graphs_.find(key);
    if (found == batched_graphs_.end()) {
      cudaGraph_t graph = nullptr;
      LW_CUDA_TRY(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      Status captured = enqueue_batched_layers(rows);
      if (captured.is_ok() && logits_in_graph) captured = enqueue_batched_logits(0, wanted, greedy_rows);
      const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
      LW_TRY(captured);
      LW_CUDA_TRY(ended);
      cudaGraphExec_t exec = nullptr;
      const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
      cudaGraphDestroy(graph);
      LW_CUDA_TRY(instantiated);
      found = batched_graphs_.emplace(key, exec).first;
    }
    LW_CUDA_TRY(cudaGraphLaunch(found->second, stream_));
    if (logits_in_graph) {
      LW_CUDA_TRY(cudaStreamSynchronize(stream_));
      collect_batched_logits(0, wanted, greedy_rows, logits, greedy);
      return Status::ok();
    }
  }
  for (int64_t done = 0; done < wanted; done += kBatchedLogitsRows) {
    const int64_t count = std::min(kBatchedLogitsRows, wanted - done);
    LW_TRY(enqueue_batched_logits(done, count, greedy_rows));
    LW_CUDA_TRY(cudaStreamSynchronize(stream_));
    collect_batched_logits(done, count, greedy_rows, logits, greedy);
  }
  return Status::ok();
}

Status CudaBackend::enqueue_batched_logits(int64_t done, int64_t rows, const std::vector<bool>& greedy_rows) {
  const model::ModelConfig& c = adapter_.config();
  const int64_t embd = c.embedding_width, vocab = c.vocab_size;
  // gate_up_ is free after the last layer: the wanted rows of x_ side by side there.
  kc::GatherRowsParams gather;
  gather.out = gate_up_;
  gather.in = x_;
  gather.rows = batch_gather_ + done;
  gather.count = rows;
  gather.width = embd;
  LW_TRY(kc::gather_rows_f32(gather, stream_));
  LW_TRY(rmsnorm_with_pdl((batched_pdl_ & kBatchedPdlNorms) != 0, normed_, gate_up_, output_norm_, rows, embd,
                          c.rms_norm_eps, stream_, packed_for(embd)));
  float* logits_rows = reinterpret_cast<float*>(batched_logits_.data());
  float* pinned_rows = reinterpret_cast<float*>(pinned_batched_logits_.data());
  LW_TRY(batched_product(output_, normed_, embd, rows, logits_rows, vocab, nullptr, nullptr));
  const auto is_greedy = [&](int64_t r) { return greedy_rows[static_cast<size_t>(done + r)]; };
  int64_t greedy_count = 0;
  for (int64_t r = 0; r < rows; ++r) greedy_count += is_greedy(r) ? 1 : 0;
  if (greedy_count > 0) {  // every row's token (cheap), only the greedy rows' are used
    LW_TRY(kc::argmax_rows_f32(batch_greedy_, argmax_workspace_.data(), logits_rows, rows, vocab, vocab,
                               stream_));
    LW_CUDA_TRY(cudaMemcpyAsync(pinned_greedy_, batch_greedy_, static_cast<size_t>(rows * 4),
                                cudaMemcpyDeviceToHost, stream_));
  }
  if (greedy_count == 0) {
    LW_CUDA_TRY(cudaMemcpyAsync(pinned_rows, logits_rows, static_cast<size_t>(rows * vocab * 4),
                                cudaMemcpyDeviceToHost, stream_));
  } else if (greedy_count < rows) {
    for (int64_t r = 0; r < rows; ++r) {
      if (is_greedy(r)) continue;
      LW_CUDA_TRY(cudaMemcpyAsync(pinned_rows + r * vocab, logits_rows + r * vocab,
                                  static_cast<size_t>(vocab * 4), cudaMemcpyDeviceToHost, stream_));
    }
  }
  return Status::ok();
}

void CudaBackend::collect_batched_logits(int64_t done, int64_t rows, const std::vector<bool>& greedy_rows,
                                         std::vector<float>& logits, std::vector<int32_t>& greedy) const {
  const int64_t vocab = adapter_.config().vocab_size;
  const float* pinned_rows = reinterpret_cast<const float*>(pinned_batched_logits_.data());
  for (int64_t r = 0; r < rows; ++r) {
    if (greedy_rows[static_cast<size_t>(done + r)]) {
      greedy.push_back(pinned_greedy_[r]);
    } else {
      logits.insert(logits.end(), pinned_rows + r * vocab, pinned_rows + (r + 1) * vocab);
    }
  }
}

Status CudaBackend::forward_batch(std::span<const BatchEntry> entries, std::vector<float>& logits,
                                  std::vector<int32_t>& greedy) {
  const model::ModelConfig& c = adapter_.config();
  LW_TRY(check_batch_entries(entries, paged_plan_, plan_.context, c.vocab_size));
  LW_CUDA_TRY(cudaSetDevice(device_));
  logits.clear();
  greedy.clear();
  int64_t rows_wanted = 0;
  for (const BatchEntry& e : entries) rows_wanted += e.logits && !e.greedy ? 1 : 0;
  logits.reserve(static_cast<size_t>(rows_wanted * c.vocab_size));
  const int64_t b = plan_.max_batch;
  const int64_t block_positions = paged_plan_.block_positions;
  size_t entry = 0;
  int64_t entry_row = 0;  // rows of `entry` already run in earlier passes
  while (entry < entries.size()) {
    // One pass: rows of consecutive entries up to max_batch; an entry may be cut between passes.
    int64_t rows = 0, tables = 0, wanted = 0;
    int32_t* tokens = pinned_batch_meta_;
    int32_t* positions = pinned_batch_meta_ + b;
    int32_t* row_tables = pinned_batch_meta_ + 2 * b;
    int32_t* gather = pinned_batch_meta_ + 3 * b;
    int32_t* table_data = pinned_batch_meta_ + 4 * b + kBatchedLogitsRows;
    const int64_t table_capacity = batch_meta_ints_ - 4 * b - kBatchedLogitsRows;
    std::vector<bool> greedy_rows;  // per gathered row: the entry wants its greedy token only
    while (entry < entries.size() && rows < b) {
      const BatchEntry& e = entries[entry];
      const int64_t n = static_cast<int64_t>(e.tokens.size());
      const int64_t take = std::min(n - entry_row, b - rows);
      const int64_t reach = e.start_position + entry_row + take;  // positions the rows see
      const int64_t blocks = kv_pool::blocks_for_positions(reach, block_positions);
      if (tables + blocks > table_capacity) break;  // the next pass takes it
      std::copy_n(e.block_table.begin(), blocks, table_data + tables);
      for (int64_t t = 0; t < take; ++t) {
        tokens[rows + t] = e.tokens[static_cast<size_t>(entry_row + t)];
        positions[rows + t] = static_cast<int32_t>(e.start_position + entry_row + t);
        row_tables[rows + t] = static_cast<int32_t>(tables);
      }
      tables += blocks;
      rows += take;
      entry_row += take;
      if (entry_row == n) {
        if (e.logits) {
          gather[wanted++] = static_cast<int32_t>(rows - 1);
          greedy_rows.push_back(e.greedy);
        }
        ++entry;
        entry_row = 0;
      }
    }
    if (rows == 0)
      return make_error(ErrorCode::kInternal, "forward_batch: an entry's block table does not fit");
    LW_CUDA_TRY(cudaMemcpyAsync(batch_meta_.data(), pinned_batch_meta_,
                                static_cast<size_t>((4 * b + kBatchedLogitsRows + tables) * 4),
                                cudaMemcpyHostToDevice, stream_));
    LW_TRY(run_batched_pass(rows, greedy_rows, logits, greedy));
    LW_CUDA_TRY(cudaStreamSynchronize(stream_));  // the staging buffer is reused by the next pass
  }
  return Status::ok();
}

}  // namespace llama_worker::runtime::cuda
