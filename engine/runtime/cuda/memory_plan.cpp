#include "runtime/cuda/memory_plan.hpp"

#include "cuda/attention.cuh"

#include <cstdio>
#include <string>

namespace llama_worker::runtime::cuda {
namespace {

int64_t vector_bytes(const model::WeightView& view) {
  return view.present() ? align_up(view.row_length * view.rows * static_cast<int64_t>(sizeof(float))) : 0;
}

int64_t matrix_bytes(const model::WeightView& view) {
  return view.present() ? align_up(view.row_bytes * view.rows) : 0;
}

}  // namespace

std::string mib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", static_cast<double>(bytes) / 1048576.0);
  return text;
}

int64_t widest_product_input(const model::ModelConfig& c) {
  int64_t widest = c.embedding_width > c.q_width() ? c.embedding_width : c.q_width();
  return widest > c.feed_forward_width ? widest : c.feed_forward_width;
}

ActivationLayout activation_layout(const model::ModelConfig& c) {
  const int64_t qkv = c.q_width() + 2 * c.kv_width();
  ActivationLayout layout;
  layout.residual = c.embedding_width;
  layout.normed_or_attention = c.embedding_width > c.q_width() ? c.embedding_width : c.q_width();
  layout.qkv_or_gate_up = qkv > 2 * c.feed_forward_width ? qkv : 2 * c.feed_forward_width;
  return layout;
}

Result<MemoryPlan> plan_memory(const model::LlamaInferenceAdapter& adapter, int64_t context,
                               int64_t max_batch, bool tensor_core_prefill) {
  const model::ModelConfig& c = adapter.config();
  const model::ModelWeights& w = adapter.weights();
  if (context <= 0 || max_batch <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "memory plan: context and batch must be positive");
  }
  MemoryPlan plan;
  plan.context = context;
  plan.max_batch = max_batch;
  plan.weight_bytes = matrix_bytes(w.token_embd) + vector_bytes(w.output_norm);
  if (!adapter.block().tied_output) plan.weight_bytes += matrix_bytes(w.output);
  for (const model::LayerWeights& layer : w.layers) {
    for (const model::WeightView* vector :
         {&layer.attn_norm, &layer.ffn_norm, &layer.bq, &layer.bk, &layer.bv}) {
      plan.weight_bytes += vector_bytes(*vector);
    }
    for (const model::WeightView* matrix : {&layer.wq, &layer.wk, &layer.wv, &layer.wqkv, &layer.wo,
                                            &layer.w_gate, &layer.w_up, &layer.w_down}) {
      plan.weight_bytes += matrix_bytes(*matrix);
    }
  }
  plan.kv_bytes_per_position = c.layer_count * 2 * c.kv_width() * 2;
  const int64_t per_token_floats = activation_layout(c).floats_per_token();
  plan.scratch_bytes =
      align_up(max_batch * per_token_floats * 4) + align_up(kLogitsRowsPerPass * c.vocab_size * 4) +
      2 * align_up(max_batch * 4) + 2 * align_up(64) +  // token ids, positions, error flag, norm counter

      align_up(kernels::cuda::attention_split_workspace_floats(c.head_count, c.head_dim, context) * 4) +
      align_up(context * (c.rope_dims / 2) * 8);  // RoPE cos/sin table
  if (tensor_core_prefill) {
    plan.scratch_bytes += align_up(kTensorCoreTileElements * 2) +
                          align_up(max_batch * widest_product_input(c) * 2) + align_up(kCublasWorkspaceBytes);
  }
  plan.reserve_bytes = int64_t{64} << 20;
  return plan;
}

Status check_memory_plan(const MemoryPlan& plan, const std::string& model_name, int64_t free_bytes,
                         int64_t budget_bytes) {
  const int64_t available = budget_bytes > 0 && budget_bytes < free_bytes ? budget_bytes : free_bytes;
  if (plan.total_bytes() <= available) return Status::ok();
  const int64_t fixed = plan.weight_bytes + plan.scratch_bytes + plan.reserve_bytes;
  const int64_t largest = available > fixed ? (available - fixed) / plan.kv_bytes_per_position : 0;
  std::string message = "model '" + model_name + "' needs " + mib(plan.total_bytes()) + " MiB (weights " +
                        mib(plan.weight_bytes) + ", KV cache for " + std::to_string(plan.context) +
                        " positions " + mib(plan.kv_bytes()) + ", scratch " + mib(plan.scratch_bytes) +
                        ", reserve " + mib(plan.reserve_bytes) + ") but " + mib(available) +
                        " MiB are available (free " + mib(free_bytes) + " MiB, budget " +
                        (budget_bytes > 0 ? mib(budget_bytes) + " MiB" : "none") + "); ";
  message += largest > 0 ? "the largest context that fits is " + std::to_string(largest)
                         : "the weights alone do not fit, at any context";
  return make_error(ErrorCode::kOutOfMemory, message);
}

}  // namespace llama_worker::runtime::cuda
