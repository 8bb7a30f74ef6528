#include "model/synthetic/model_plan.hpp"

#include <algorithm>

#include "model/architecture.hpp"

namespace llama_worker::synthetic {
namespace {

Result<int64_t> hyperparameter(const gguf::File& file, const std::string& key,
                               std::optional<int64_t> override_value) {
  if (override_value) return *override_value;
  auto value = file.get<int64_t>(key);
  if (!value) return make_error(value.error().code, file.path() + ": " + value.error().message);
  return *value;
}

Status check_positive(const std::string& what, int64_t value) {
  if (value <= 0 || value > (int64_t{1} << 24)) {
    return make_error(ErrorCode::kInvalidArgument,
                      what + " must be in 1.." + std::to_string(1 << 24) + ", got " + std::to_string(value));
  }
  return Status::ok();
}

}  // namespace

Result<ModelShape> model_shape(const gguf::File& vocabulary, const ShapeOverrides& overrides) {
  LW_ASSIGN_OR_RETURN(const std::string architecture, vocabulary.architecture());
  LW_ASSIGN_OR_RETURN(const model::ArchitectureTraits* traits, model::find_architecture(architecture));
  ModelShape shape;
  shape.architecture = architecture;
  const std::string prefix = architecture + ".";
  LW_ASSIGN_OR_RETURN(shape.layers, hyperparameter(vocabulary, prefix + "block_count", overrides.layers));
  LW_ASSIGN_OR_RETURN(shape.embedding,
                      hyperparameter(vocabulary, prefix + "embedding_length", overrides.embedding));
  LW_ASSIGN_OR_RETURN(shape.feed_forward,
                      hyperparameter(vocabulary, prefix + "feed_forward_length", overrides.feed_forward));
  LW_ASSIGN_OR_RETURN(shape.heads,
                      hyperparameter(vocabulary, prefix + "attention.head_count", overrides.heads));
  if (overrides.kv_heads || vocabulary.has(prefix + "attention.head_count_kv")) {
    LW_ASSIGN_OR_RETURN(shape.kv_heads,
                        hyperparameter(vocabulary, prefix + "attention.head_count_kv", overrides.kv_heads));
  } else {
    shape.kv_heads = shape.heads;  // the format's default: no grouped-query attention
  }
  const gguf::Value* tokens = vocabulary.find("tokenizer.ggml.tokens");
  if (tokens == nullptr || !tokens->is_array()) {
    return make_error(ErrorCode::kNotFound,
                      vocabulary.path() + ": no tokenizer.ggml.tokens array (not a vocabulary file)");
  }
  shape.vocabulary = static_cast<int64_t>(tokens->count);

  LW_TRY(check_positive("layers", shape.layers));
  LW_TRY(check_positive("embedding width", shape.embedding));
  LW_TRY(check_positive("feed-forward width", shape.feed_forward));
  LW_TRY(check_positive("heads", shape.heads));
  LW_TRY(check_positive("kv heads", shape.kv_heads));
  LW_TRY(check_positive("vocabulary size", shape.vocabulary));
  if (shape.embedding % shape.heads != 0) {
    return make_error(ErrorCode::kInvalidArgument, "embedding width " + std::to_string(shape.embedding) +
                                                       " is not a multiple of the head count " +
                                                       std::to_string(shape.heads));
  }
  if (shape.heads % shape.kv_heads != 0) {
    return make_error(ErrorCode::kInvalidArgument, "head count " + std::to_string(shape.heads) +
                                                       " is not a multiple of the kv head count " +
                                                       std::to_string(shape.kv_heads));
  }
  shape.head_size = shape.embedding / shape.heads;
  if (shape.head_size % 2 != 0) {
    return make_error(ErrorCode::kInvalidArgument, "head size " + std::to_string(shape.head_size) +
                                                       " is odd: rotary embedding needs pairs");
  }
  if (overrides.tied && !traits->allows_tied_output) {
    return make_error(ErrorCode::kInvalidArgument,
                      "architecture " + architecture + " has no tied output (--tied)");
  }
  shape.tied = overrides.tied;
  shape.qkv_bias = traits->qkv_bias == model::BiasPolicy::kRequired;
  shape.fused_qkv = traits->allows_fused_qkv;
  shape.fused_gate_up = traits->fused_gate_up;
  const auto context = vocabulary.get<int64_t>(prefix + "context_length");
  const auto original = vocabulary.get<int64_t>(prefix + "rope.scaling.original_context_length");
  shape.rope_factors = shape.fused_qkv && context && original && *context > *original;
  return shape;
}

std::vector<TensorSpec> tensor_plan(const ModelShape& shape) {
  const int64_t e = shape.embedding, d = shape.head_size;
  const int64_t q_rows = shape.heads * d, kv_rows = shape.kv_heads * d;
  std::vector<TensorSpec> globals = {
      {"token_embd.weight", {e, shape.vocabulary}, TensorRole::kEmbedding},
      {"output_norm.weight", {e}, TensorRole::kNorm},
  };
  if (!shape.tied) globals.push_back({"output.weight", {e, shape.vocabulary}, TensorRole::kEmbedding});
  if (shape.rope_factors) {
    globals.push_back({"rope_factors_long.weight", {d / 2}, TensorRole::kRopeFactor});
    globals.push_back({"rope_factors_short.weight", {d / 2}, TensorRole::kRopeFactor});
  }
  const auto by_name = [](const TensorSpec& a, const TensorSpec& b) { return a.name < b.name; };
  std::sort(globals.begin(), globals.end(), by_name);

  std::vector<TensorSpec> plan = globals;
  for (int64_t layer = 0; layer < shape.layers; ++layer) {
    const std::string block = "blk." + std::to_string(layer) + ".";
    std::vector<TensorSpec> tensors = {
        {block + "attn_norm.weight", {e}, TensorRole::kNorm},
        {block + "ffn_norm.weight", {e}, TensorRole::kNorm},
        {block + "attn_output.weight", {q_rows, e}, TensorRole::kMatrix},
        {block + "ffn_down.weight", {shape.feed_forward, e}, TensorRole::kMatrix},
    };
    if (shape.fused_qkv) {
      tensors.push_back({block + "attn_qkv.weight", {e, q_rows + 2 * kv_rows}, TensorRole::kMatrix});
    } else {
      tensors.push_back({block + "attn_q.weight", {e, q_rows}, TensorRole::kMatrix});
      tensors.push_back({block + "attn_k.weight", {e, kv_rows}, TensorRole::kMatrix});
      tensors.push_back({block + "attn_v.weight", {e, kv_rows}, TensorRole::kMatrix});
      if (shape.qkv_bias) {
        tensors.push_back({block + "attn_q.bias", {q_rows}, TensorRole::kBias});
        tensors.push_back({block + "attn_k.bias", {kv_rows}, TensorRole::kBias});
        tensors.push_back({block + "attn_v.bias", {kv_rows}, TensorRole::kBias});
      }
    }
    if (shape.fused_gate_up) {
      tensors.push_back({block + "ffn_up.weight", {e, 2 * shape.feed_forward}, TensorRole::kMatrix});
    } else {
      tensors.push_back({block + "ffn_gate.weight", {e, shape.feed_forward}, TensorRole::kMatrix});
      tensors.push_back({block + "ffn_up.weight", {e, shape.feed_forward}, TensorRole::kMatrix});
    }
    std::sort(tensors.begin(), tensors.end(), by_name);
    plan.insert(plan.end(), tensors.begin(), tensors.end());
  }
  return plan;
}

}  // namespace llama_worker::synthetic
