// The shape of a synthetic model and the list of its tensors (names and shapes as llama.cpp's
// converters write them), from a weightless vocabulary GGUF plus command-line overrides.
//
// Tensors per architecture (E embedding, F feed-forward, H heads, K kv heads, D = E/H head
// size, V vocabulary; shapes in ggml order, row length first):
//   token_embd.weight [E, V]; output_norm.weight [E]; output.weight [E, V] unless tied
//   blk.N.attn_norm.weight [E]; blk.N.ffn_norm.weight [E]
//   blk.N.attn_q.weight [E, H*D], attn_k.weight [E, K*D], attn_v.weight [E, K*D]   (llama, qwen2)
//     qwen2 also: attn_q.bias [H*D], attn_k.bias [K*D], attn_v.bias [K*D]
//   blk.N.attn_qkv.weight [E, (H + 2K)*D]                                         (phi3: fused)
//   blk.N.attn_output.weight [H*D, E]
//   blk.N.ffn_gate.weight [E, F], ffn_up.weight [E, F]                             (llama, qwen2)
//   blk.N.ffn_up.weight [E, 2F] (gate rows, then up rows)                          (phi3: fused)
//   blk.N.ffn_down.weight [F, E]
//   rope_factors_long.weight, rope_factors_short.weight [D/2]  (phi3 when the context exceeds
//     rope.scaling.original_context_length: LongRoPE)
// Which quirk applies comes from model::ArchitectureTraits (engine/model/architecture.hpp), not
// from architecture names. Tensors are listed in the order llama-quantize writes them: tensors
// outside blocks first, then block by block, each group sorted by name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "gguf/file.hpp"

namespace llama_worker::synthetic {

// Hyperparameters given on the command line; unset ones come from the vocabulary file.
struct ShapeOverrides {
  std::optional<int64_t> layers;
  std::optional<int64_t> embedding;
  std::optional<int64_t> feed_forward;
  std::optional<int64_t> heads;
  std::optional<int64_t> kv_heads;
  bool tied = false;  // no output.weight: the logits use token_embd
};

struct ModelShape {
  std::string architecture;  // general.architecture
  int64_t layers = 0;
  int64_t embedding = 0;
  int64_t feed_forward = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_size = 0;   // embedding / heads
  int64_t vocabulary = 0;  // tokenizer.ggml.tokens entries
  bool tied = false;
  bool qkv_bias = false;       // qwen2
  bool fused_qkv = false;      // phi3
  bool fused_gate_up = false;  // phi3
  bool rope_factors = false;   // phi3 LongRoPE
};

enum class TensorRole {
  kEmbedding,   // token_embd, output
  kMatrix,      // projections: values scaled by 1/sqrt(row length)
  kNorm,        // RMSNorm weights, near 1
  kBias,        // small
  kRopeFactor,  // >= 1
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;  // ggml order
  TensorRole role;
};

// Reads the hyperparameters of the vocabulary file, applies the overrides and checks the
// result (every size positive, heads divide the embedding, kv heads divide heads, even head
// size, tied only where the architecture allows it). Unsupported architecture: kUnsupported.
Result<ModelShape> model_shape(const gguf::File& vocabulary, const ShapeOverrides& overrides);

// Every tensor of the model, in file order.
std::vector<TensorSpec> tensor_plan(const ModelShape& shape);

}  // namespace llama_worker::synthetic
