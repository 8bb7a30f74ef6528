// Model configuration: the architecture (from general.architecture) and the hyperparameters of
// the Llama block, read from GGUF metadata with the defaults the format defines, and checked so
// that every later size computation is safe.
//
// Keys (<arch> = general.architecture), defaults as llama.cpp applies them:
//   <arch>.context_length, .embedding_length, .block_count, .feed_forward_length,
//   .attention.head_count, .attention.layer_norm_rms_epsilon          required
//   .attention.head_count_kv                                            default head_count
//   .attention.key_length / .value_length                               default embedding_length / head_count
//   .rope.dimension_count                                               default key_length
//   .rope.freq_base                                                     default 10000
//   .rope.scaling.type ("none" | "linear"), .rope.scaling.factor        default none
//   .attention.sliding_window                                           default 0 (none)
// The vocabulary size is the row count of token_embd.weight (checked against <arch>.vocab_size
// and the tokenizer's token list when present).
//
// Invariants after load_model_config() succeeds: every count is positive and below a sanity cap;
// head_count % kv_head_count == 0; embedding_width % head_count == 0; rope_dims is even and
// <= head_dim; key and value heads have the same width.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.hpp"
#include "gguf/file.hpp"
#include "model/architecture.hpp"

namespace llama_worker::model {

struct ModelConfig {
  const ArchitectureTraits* traits = nullptr;  // never null after load_model_config
  std::string architecture;                    // general.architecture
  std::string name;                            // general.name, or the file name when absent
  int64_t vocab_size = 0;                      // rows of token_embd (logits per position)
  int64_t context_length = 0;                  // positions the model was trained for
  int64_t embedding_width = 0;                 // n_embd
  int64_t layer_count = 0;                     // n_layer
  int64_t head_count = 0;                      // query heads
  int64_t kv_head_count = 0;                   // key/value heads (GQA when < head_count)
  int64_t head_dim = 0;                        // elements per head (key_length == value_length)
  int64_t feed_forward_width = 0;              // n_ff
  int64_t rope_dims = 0;                       // leading elements of each head that RoPE rotates
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / rope.scaling.factor for linear scaling
  float rms_norm_eps = 1e-5f;
  int64_t sliding_window_in_file = 0;  // <arch>.attention.sliding_window, 0 when absent
  int64_t sliding_window = 0;          // the window attention applies by default (traits decide)

  int64_t q_width() const { return head_count * head_dim; }      // rows of attn_q
  int64_t kv_width() const { return kv_head_count * head_dim; }  // rows of attn_k / attn_v
};

Result<ModelConfig> load_model_config(const gguf::File& file);

}  // namespace llama_worker::model
