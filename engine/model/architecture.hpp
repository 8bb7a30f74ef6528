// Architecture traits: every difference between the Llama-family architectures the engine runs,
// in ONE table (architecture.cpp). Nothing else in the engine tests an architecture name; the
// config, the adapter and the backends read these traits.
//
// | architecture | rope  | Q/K/V bias | fused attn_qkv | fused gate/up in ffn_up | tied output | sliding
// window key |
// |--------------|-------|------------|----------------|-------------------------|-------------|--------------------|
// | llama        | normal| optional   | no             | no                      | allowed     | - | | qwen2
// | NEOX  | required   | no             | no                      | allowed     | -                  | | phi3
// | NEOX  | none       | allowed        | yes                     | no          | read, not applied  |
//
// Sources: llama.cpp src/llama-model.cpp (llama_model_rope_type: LLM_ARCH_LLAMA -> NORM,
// LLM_ARCH_QWEN2 and LLM_ARCH_PHI3 -> NEOX; tensor creation per architecture; the PHI3 hparams
// case that turns sliding-window attention off) and transformers' GGUF loader (integrations/ggml.py,
// which maps no sliding_window key for phi3). See engine/model/README.md.
#pragma once

#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace llama_worker::model {

enum class RopeStyle {
  kNormal,  // rotate adjacent pairs (x[2i], x[2i+1]): llama.cpp LLAMA_ROPE_TYPE_NORM
  kNeox,    // rotate halves (x[i], x[i + d/2]): LLAMA_ROPE_TYPE_NEOX, transformers' rotate_half
};

enum class BiasPolicy {
  kNone,      // the architecture has no Q/K/V bias; a bias tensor in the file is an error
  kOptional,  // used when present (llama.cpp creates them with TENSOR_NOT_REQUIRED)
  kRequired,  // must be present (qwen2)
};

// What the engine does with <arch>.attention.sliding_window.
enum class SlidingWindowPolicy {
  kNotUsed,         // the architecture has no sliding window; the key is ignored
  kReadNotApplied,  // read and reported; attention stays fully causal unless the caller opts in
                    // (phi3: llama.cpp disables it, transformers-on-GGUF never reads it)
};

struct ArchitectureTraits {
  std::string_view name;  // general.architecture
  RopeStyle rope_style;
  BiasPolicy qkv_bias;
  bool allows_fused_qkv;    // attn_qkv (rows: q, then k, then v) instead of attn_q/k/v
  bool fused_gate_up;       // ffn_up is (2 * n_ff) rows: gate, then up; no ffn_gate
  bool allows_tied_output;  // output.weight may be absent: the logits use token_embd
  SlidingWindowPolicy sliding_window;
};

// Traits of a supported architecture; kUnsupported "unsupported architecture 'x' (supported: ...)"
// otherwise.
Result<const ArchitectureTraits*> find_architecture(std::string_view name);

// Every supported architecture, in table order (for messages and tests).
const std::vector<ArchitectureTraits>& supported_architectures();

}  // namespace llama_worker::model
