#include "model/testing/tiny_model.hpp"

#include <cstring>
#include <random>

namespace llama_worker::model::testing {
namespace {

std::vector<uint8_t> random_f32_bytes(int64_t count, std::mt19937& generator, float scale) {
  std::vector<uint8_t> bytes(static_cast<size_t>(count) * 4);
  for (int64_t i = 0; i < count; ++i) {
    const double unit = static_cast<double>(generator()) / 4294967296.0;
    const float value = static_cast<float>((2.0 * unit - 1.0) * scale);
    std::memcpy(bytes.data() + i * 4, &value, 4);
  }
  return bytes;
}

}  // namespace

TinyModelSpec llama_spec() { return {}; }

TinyModelSpec qwen2_spec() {
  TinyModelSpec spec;
  spec.architecture = "qwen2";
  spec.qkv_bias = true;
  spec.tied = true;
  return spec;
}

TinyModelSpec phi3_spec() {
  TinyModelSpec spec;
  spec.architecture = "phi3";
  spec.kv_heads = 4;
  spec.fused_qkv = true;
  spec.fused_gate_up = true;
  spec.extra_counts["attention.sliding_window"] = 7;
  return spec;
}

gguf::Writer tiny_model_writer(const TinyModelSpec& s) {
  gguf::Writer writer;
  const std::string& a = s.architecture;
  writer.set("general.architecture", a);
  writer.set("general.name", std::string("tiny ") + a);
  auto count = [&](const std::string& suffix, int64_t value) {
    if (s.drop_keys.count(suffix) == 0) writer.set(a + "." + suffix, static_cast<uint32_t>(value));
  };
  count("context_length", s.context);
  count("embedding_length", s.embd);
  count("block_count", s.layers);
  count("feed_forward_length", s.ff);
  count("attention.head_count", s.heads);
  count("attention.head_count_kv", s.kv_heads);
  if (s.drop_keys.count("attention.layer_norm_rms_epsilon") == 0) {
    writer.set(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  }
  if (s.drop_keys.count("rope.freq_base") == 0) writer.set(a + ".rope.freq_base", 10000.0f);
  for (const auto& [suffix, value] : s.extra_counts)
    writer.set(a + "." + suffix, static_cast<uint32_t>(value));

  std::mt19937 generator(s.seed);
  const int64_t head_dim = s.embd / s.heads;
  const int64_t qw = s.heads * head_dim, kvw = s.kv_heads * head_dim;
  auto tensor = [&](const std::string& name, std::vector<int64_t> shape, bool norm = false) {
    if (s.drop_tensors.count(name)) return;
    auto reshaped = s.reshape.find(name);
    if (reshaped != s.reshape.end()) shape = reshaped->second;
    int64_t elements = 1;
    for (int64_t d : shape) elements *= d;
    auto bytes = random_f32_bytes(elements, generator, s.weight_scale);
    if (norm) {  // norms near 1 keep activations sane
      for (int64_t i = 0; i < elements; ++i) {
        float value;
        std::memcpy(&value, bytes.data() + i * 4, 4);
        value += 1.0f;
        std::memcpy(bytes.data() + i * 4, &value, 4);
      }
    }
    writer.add_tensor(name, gguf::TensorType::kF32, shape, std::move(bytes));
  };
  tensor("token_embd.weight", {s.embd, s.vocab});
  tensor("output_norm.weight", {s.embd}, true);
  if (!s.tied) tensor("output.weight", {s.embd, s.vocab});
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    tensor(p + "attn_norm.weight", {s.embd}, true);
    if (s.fused_qkv) {
      tensor(p + "attn_qkv.weight", {s.embd, qw + 2 * kvw});
    } else {
      tensor(p + "attn_q.weight", {s.embd, qw});
      tensor(p + "attn_k.weight", {s.embd, kvw});
      tensor(p + "attn_v.weight", {s.embd, kvw});
    }
    if (s.qkv_bias) {
      tensor(p + "attn_q.bias", {qw});
      tensor(p + "attn_k.bias", {kvw});
      tensor(p + "attn_v.bias", {kvw});
    }
    tensor(p + "attn_output.weight", {qw, s.embd});
    tensor(p + "ffn_norm.weight", {s.embd}, true);
    if (s.fused_gate_up) {
      tensor(p + "ffn_up.weight", {s.embd, 2 * s.ff});
    } else {
      tensor(p + "ffn_gate.weight", {s.embd, s.ff});
      tensor(p + "ffn_up.weight", {s.embd, s.ff});
    }
    tensor(p + "ffn_down.weight", {s.ff, s.embd});
  }
  for (const std::string& name : s.extra_tensors) tensor(name, {s.embd});
  return writer;
}

Result<std::vector<uint8_t>> tiny_model_bytes(const TinyModelSpec& spec) {
  return tiny_model_writer(spec).to_bytes();
}

}  // namespace llama_worker::model::testing
