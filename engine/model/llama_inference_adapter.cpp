#include "model/llama_inference_adapter.hpp"

#include <set>
#include <string>
#include <vector>

namespace llama_worker::model {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// Looks tensors up by name, checks their shapes and types, and remembers which were used so
// that unexplained tensors can be reported.
class TensorBinder {
 public:
  TensorBinder(const gguf::File& file, std::string architecture)
      : file_(file), architecture_(std::move(architecture)) {}

  // A tensor of shape [row_length] (rows == 0) or [row_length, rows]; absent -> empty view when
  // !required, kNotFound otherwise.
  Result<WeightView> bind(const std::string& name, int64_t row_length, int64_t rows, bool required) {
    const gguf::TensorInfo* tensor = file_.find_tensor(name);
    if (tensor == nullptr) {
      if (!required) return WeightView{};
      return make_error(ErrorCode::kNotFound,
                        "missing tensor '" + name + "' (required by architecture '" + architecture_ + "')");
    }
    used_.insert(name);
    std::vector<int64_t> expected = {row_length};
    if (rows > 0) expected.push_back(rows);
    if (tensor->shape != expected) {
      return make_error(ErrorCode::kMalformedFile,
                        "tensor '" + name + "' has shape " + shape_text(tensor->shape) +
                            ", but the hyperparameters imply " + shape_text(expected));
    }
    const gguf::TensorTypeTraits& traits = gguf::traits(tensor->type);
    if (!traits.computable) {
      return make_error(ErrorCode::kUnsupported, "tensor '" + name + "' has type " +
                                                     std::string(traits.name) +
                                                     ", which the engine cannot compute with");
    }
    auto row_bytes = gguf::row_bytes(tensor->type, row_length);
    if (!row_bytes) return row_bytes.error();
    WeightView view;
    view.tensor = tensor;
    view.type = tensor->type;
    view.data = tensor->data;
    view.row_length = row_length;
    view.rows = rows > 0 ? rows : 1;
    view.row_bytes = static_cast<int64_t>(*row_bytes);
    return view;
  }

  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

  // The first tensor of the file that no bind() consumed, if any.
  Status check_all_used() const {
    for (const gguf::TensorInfo& tensor : file_.tensors()) {
      if (used_.count(tensor.name) == 0) {
        return make_error(ErrorCode::kUnsupported, "unexpected tensor '" + tensor.name +
                                                       "' for architecture '" + architecture_ +
                                                       "' (the engine would ignore it)");
      }
    }
    return Status::ok();
  }

 private:
  const gguf::File& file_;
  std::string architecture_;
  std::set<std::string> used_;
};

std::string layer_tensor(int64_t layer, const char* suffix) {
  return "blk." + std::to_string(layer) + "." + suffix;
}

}  // namespace

Result<LlamaInferenceAdapter> LlamaInferenceAdapter::create(const gguf::File& file) {
  LlamaInferenceAdapter adapter;
  LW_ASSIGN_OR_RETURN(adapter.config_, load_model_config(file));
  const ModelConfig& c = adapter.config_;
  const ArchitectureTraits& traits = *c.traits;
  TensorBinder binder(file, c.architecture);
  BlockSpec& spec = adapter.block_;
  ModelWeights& w = adapter.weights_;

  spec.rope_style = traits.rope_style;
  spec.sliding_window = c.sliding_window;
  spec.fused_gate_up = traits.fused_gate_up;
  spec.fused_qkv = traits.allows_fused_qkv && binder.has(layer_tensor(0, "attn_qkv.weight"));
  spec.qkv_bias = traits.qkv_bias == BiasPolicy::kRequired ||
                  (traits.qkv_bias == BiasPolicy::kOptional && binder.has(layer_tensor(0, "attn_q.bias")));
  spec.tied_output = !binder.has("output.weight");
  if (spec.tied_output && !traits.allows_tied_output) {
    return make_error(ErrorCode::kNotFound, "missing tensor 'output.weight' (architecture '" +
                                                c.architecture + "' has no tied output)");
  }

  const int64_t embd = c.embedding_width;
  LW_ASSIGN_OR_RETURN(w.token_embd, binder.bind("token_embd.weight", embd, c.vocab_size, true));
  LW_ASSIGN_OR_RETURN(w.output_norm, binder.bind("output_norm.weight", embd, 0, true));
  if (spec.tied_output) {
    w.output = w.token_embd;
  } else {
    LW_ASSIGN_OR_RETURN(w.output, binder.bind("output.weight", embd, c.vocab_size, true));
  }

  const int64_t qw = c.q_width(), kvw = c.kv_width(), ff = c.feed_forward_width;
  w.layers.resize(static_cast<size_t>(c.layer_count));
  for (int64_t i = 0; i < c.layer_count; ++i) {
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    LW_ASSIGN_OR_RETURN(l.attn_norm, binder.bind(layer_tensor(i, "attn_norm.weight"), embd, 0, true));
    if (spec.fused_qkv) {
      LW_ASSIGN_OR_RETURN(l.wqkv, binder.bind(layer_tensor(i, "attn_qkv.weight"), embd, qw + 2 * kvw, true));
    } else {
      LW_ASSIGN_OR_RETURN(l.wq, binder.bind(layer_tensor(i, "attn_q.weight"), embd, qw, true));
      LW_ASSIGN_OR_RETURN(l.wk, binder.bind(layer_tensor(i, "attn_k.weight"), embd, kvw, true));
      LW_ASSIGN_OR_RETURN(l.wv, binder.bind(layer_tensor(i, "attn_v.weight"), embd, kvw, true));
    }
    if (spec.qkv_bias) {
      LW_ASSIGN_OR_RETURN(l.bq, binder.bind(layer_tensor(i, "attn_q.bias"), qw, 0, true));
      LW_ASSIGN_OR_RETURN(l.bk, binder.bind(layer_tensor(i, "attn_k.bias"), kvw, 0, true));
      LW_ASSIGN_OR_RETURN(l.bv, binder.bind(layer_tensor(i, "attn_v.bias"), kvw, 0, true));
    }
    LW_ASSIGN_OR_RETURN(l.wo, binder.bind(layer_tensor(i, "attn_output.weight"), qw, embd, true));
    LW_ASSIGN_OR_RETURN(l.ffn_norm, binder.bind(layer_tensor(i, "ffn_norm.weight"), embd, 0, true));
    if (spec.fused_gate_up) {
      LW_ASSIGN_OR_RETURN(l.w_up, binder.bind(layer_tensor(i, "ffn_up.weight"), embd, 2 * ff, true));
    } else {
      LW_ASSIGN_OR_RETURN(l.w_gate, binder.bind(layer_tensor(i, "ffn_gate.weight"), embd, ff, true));
      LW_ASSIGN_OR_RETURN(l.w_up, binder.bind(layer_tensor(i, "ffn_up.weight"), embd, ff, true));
    }
    LW_ASSIGN_OR_RETURN(l.w_down, binder.bind(layer_tensor(i, "ffn_down.weight"), ff, embd, true));
  }
  LW_TRY(binder.check_all_used());
  return adapter;
}

Status LlamaInferenceAdapter::enable_sliding_window() {
  if (config_.traits->sliding_window == SlidingWindowPolicy::kNotUsed ||
      config_.sliding_window_in_file == 0) {
    return make_error(ErrorCode::kInvalidArgument, "model '" + config_.name + "' declares no sliding window");
  }
  block_.sliding_window = config_.sliding_window_in_file;
  return Status::ok();
}

}  // namespace llama_worker::model
