// Tiny hand-built GGUF models for unit tests (not the synthetic-model generator: that is
// engine/model/synthetic, used for goldens). Tensors are F32 with seeded random values; options
// remove, reshape or add tensors and metadata so tests can exercise every validation path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "gguf/writer.hpp"

namespace llama_worker::model::testing {

struct TinyModelSpec {
  std::string architecture = "llama";  // written to general.architecture as is
  int64_t vocab = 37;
  int64_t embd = 24;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t ff = 40;
  int64_t context = 64;
  bool qkv_bias = false;       // add attn_q/k/v.bias
  bool fused_qkv = false;      // attn_qkv instead of attn_q/k/v
  bool fused_gate_up = false;  // ffn_up of 2 * ff rows, no ffn_gate
  bool tied = false;           // no output.weight
  uint32_t seed = 1;
  float weight_scale = 0.3f;                            // uniform in [-scale, scale)
  std::set<std::string> drop_tensors;                   // names left out
  std::map<std::string, std::vector<int64_t>> reshape;  // name -> shape written instead
  std::set<std::string> drop_keys;                      // metadata keys (suffix after "<arch>.") left out
  std::map<std::string, int64_t> extra_counts;          // "<arch>.<suffix>" -> u32 value
  std::vector<std::string> extra_tensors;               // additional F32 vectors of embd elements
};

// Specs with the quirks of each supported architecture.
TinyModelSpec llama_spec();
TinyModelSpec qwen2_spec();
TinyModelSpec phi3_spec();

gguf::Writer tiny_model_writer(const TinyModelSpec& spec);
Result<std::vector<uint8_t>> tiny_model_bytes(const TinyModelSpec& spec);

}  // namespace llama_worker::model::testing
