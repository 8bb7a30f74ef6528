// LlamaInferenceAdapter: maps one GGUF file's tensors and quirks onto the one common Llama block
//
//   x = embed(tokens)
//   for each layer:   h = x + Wo * attention(rope(Wq n + bq), rope(Wk n + bk), Wv n + bv),  n = rmsnorm(x) *
//   attn_norm
//                     x = h + Wdown * (silu(Wgate m) * (Wup m)),                         m = rmsnorm(h) *
//                     ffn_norm
//   logits = Woutput * (rmsnorm(x) * output_norm)          (Woutput = token_embd when tied)
//
// The adapter validates the file once: every required tensor exists, every tensor has exactly the
// shape the hyperparameters imply and a type the engine can compute with, and no tensor is left
// unexplained. It resolves the architecture's traits (architecture.hpp) into a BlockSpec, the only
// thing a backend consults: backends never see an architecture name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "gguf/file.hpp"
#include "model/architecture.hpp"
#include "model/config.hpp"

namespace llama_worker::model {

// One tensor as stored in the file: a matrix of `rows` rows of `row_length` elements (GGUF shape
// [row_length, rows]); vectors have rows == 1. Absent tensors have tensor == nullptr.
struct WeightView {
  const gguf::TensorInfo* tensor = nullptr;
  gguf::TensorType type = gguf::TensorType::kF32;
  const uint8_t* data = nullptr;  // into the File's mapping
  int64_t row_length = 0;         // shape[0]: input features of a matrix
  int64_t rows = 0;               // shape[1]: output features (1 for vectors)
  int64_t row_bytes = 0;          // bytes of one encoded row

  bool present() const { return tensor != nullptr; }
  const std::string& name() const { return tensor->name; }
};

struct LayerWeights {
  WeightView attn_norm;   // (n_embd)
  WeightView wq;          // (n_embd -> q_width); absent when fused_qkv
  WeightView wk;          // (n_embd -> kv_width); absent when fused_qkv
  WeightView wv;          // (n_embd -> kv_width); absent when fused_qkv
  WeightView wqkv;        // (n_embd -> q_width + 2 kv_width): rows q, then k, then v; fused_qkv only
  WeightView bq, bk, bv;  // (q_width), (kv_width), (kv_width); present when BlockSpec::qkv_bias
  WeightView wo;          // (q_width -> n_embd)
  WeightView ffn_norm;    // (n_embd)
  WeightView w_gate;      // (n_embd -> n_ff); absent when fused_gate_up
  WeightView w_up;        // (n_embd -> n_ff), or (n_embd -> 2 n_ff) rows gate then up when fused_gate_up
  WeightView w_down;      // (n_ff -> n_embd)
};

// The architecture's quirks, resolved for this file: all a backend needs beyond the shapes.
struct BlockSpec {
  RopeStyle rope_style = RopeStyle::kNormal;
  bool fused_qkv = false;      // attn_qkv instead of attn_q/k/v
  bool fused_gate_up = false;  // ffn_up holds gate and up
  bool qkv_bias = false;       // bq/bk/bv are added after the projections
  bool tied_output = false;    // logits use token_embd (output.weight absent)
  int64_t sliding_window = 0;  // 0 = full causal attention
};

struct ModelWeights {
  WeightView token_embd;   // (n_embd -> vocab): row t is token t's embedding
  WeightView output_norm;  // (n_embd)
  WeightView output;       // (n_embd -> vocab); the same view as token_embd when tied
  std::vector<LayerWeights> layers;
};

class LlamaInferenceAdapter {
 public:
  // Reads the config and validates every tensor of `file`, which must outlive the adapter.
  static Result<LlamaInferenceAdapter> create(const gguf::File& file);

  const ModelConfig& config() const { return config_; }
  const BlockSpec& block() const { return block_; }
  const ModelWeights& weights() const { return weights_; }

  // Opt in to the sliding window the file declares (<arch>.attention.sliding_window), as
  // transformers does when it runs Phi-3 from its original config; off by default (llama.cpp).
  Status enable_sliding_window();

 private:
  ModelConfig config_;
  BlockSpec block_;
  ModelWeights weights_;
};

}  // namespace llama_worker::model
