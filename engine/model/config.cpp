#include "model/config.hpp"

#include <cmath>
#include <string>

namespace llama_worker::model {
namespace {

// Sanity caps: far above any model this engine targets, low enough that products of two of them
// cannot overflow int64 and a corrupt file cannot request absurd allocations.
constexpr int64_t kMaxCount = int64_t{1} << 24;  // widths, vocab, context
constexpr int64_t kMaxLayers = 4096;

std::string key_of(const std::string& arch, const char* suffix) { return arch + "." + suffix; }

Result<int64_t> required_count(const gguf::File& file, const std::string& key, int64_t cap) {
  if (!file.has(key)) return make_error(ErrorCode::kNotFound, "missing metadata key '" + key + "'");
  auto value = file.get<int64_t>(key);
  if (!value) return value.error();
  if (*value <= 0 || *value > cap) {
    return make_error(ErrorCode::kMalformedFile, "metadata '" + key + "' = " + std::to_string(*value) +
                                                     " is outside [1, " + std::to_string(cap) + "]");
  }
  return *value;
}

Result<int64_t> optional_count(const gguf::File& file, const std::string& key, int64_t fallback, int64_t cap,
                               bool allow_zero = false) {
  if (!file.has(key)) return fallback;
  auto value = file.get<int64_t>(key);
  if (!value) return value.error();
  if (*value < (allow_zero ? 0 : 1) || *value > cap) {
    return make_error(ErrorCode::kMalformedFile, "metadata '" + key + "' = " + std::to_string(*value) +
                                                     " is outside [" + (allow_zero ? "0" : "1") + ", " +
                                                     std::to_string(cap) + "]");
  }
  return *value;
}

Result<float> optional_positive_float(const gguf::File& file, const std::string& key, float fallback) {
  if (!file.has(key)) return fallback;
  auto value = file.get<float>(key);
  if (!value) return value.error();
  if (!(*value > 0.0f) || !std::isfinite(*value)) {
    return make_error(ErrorCode::kMalformedFile, "metadata '" + key + "' = " + std::to_string(*value) +
                                                     " must be a positive finite number");
  }
  return *value;
}

Error invalid(const std::string& message) { return make_error(ErrorCode::kMalformedFile, message); }

}  // namespace

Result<ModelConfig> load_model_config(const gguf::File& file) {
  LW_ASSIGN_OR_RETURN(std::string arch, file.architecture());
  LW_ASSIGN_OR_RETURN(const ArchitectureTraits* traits, find_architecture(arch));

  ModelConfig c;
  c.traits = traits;
  c.architecture = arch;
  c.name = file.has("general.name") && file.get<std::string>("general.name")
               ? *file.get<std::string>("general.name")
               : file.path();
  LW_ASSIGN_OR_RETURN(c.context_length, required_count(file, key_of(arch, "context_length"), kMaxCount));
  LW_ASSIGN_OR_RETURN(c.embedding_width, required_count(file, key_of(arch, "embedding_length"), kMaxCount));
  LW_ASSIGN_OR_RETURN(c.layer_count, required_count(file, key_of(arch, "block_count"), kMaxLayers));
  LW_ASSIGN_OR_RETURN(c.feed_forward_width,
                      required_count(file, key_of(arch, "feed_forward_length"), kMaxCount));
  LW_ASSIGN_OR_RETURN(c.head_count, required_count(file, key_of(arch, "attention.head_count"), kMaxCount));
  LW_ASSIGN_OR_RETURN(c.kv_head_count,
                      optional_count(file, key_of(arch, "attention.head_count_kv"), c.head_count, kMaxCount));

  if (c.embedding_width % c.head_count != 0) {
    return invalid("embedding width " + std::to_string(c.embedding_width) +
                   " is not divisible by the head count " + std::to_string(c.head_count));
  }
  if (c.head_count % c.kv_head_count != 0) {
    return invalid("head count " + std::to_string(c.head_count) + " is not divisible by the KV head count " +
                   std::to_string(c.kv_head_count));
  }
  LW_ASSIGN_OR_RETURN(c.head_dim, optional_count(file, key_of(arch, "attention.key_length"),
                                                 c.embedding_width / c.head_count, kMaxCount));
  LW_ASSIGN_OR_RETURN(int64_t value_length,
                      optional_count(file, key_of(arch, "attention.value_length"), c.head_dim, kMaxCount));
  if (value_length != c.head_dim) {
    return make_error(ErrorCode::kUnsupported, "key length " + std::to_string(c.head_dim) +
                                                   " differs from value length " +
                                                   std::to_string(value_length));
  }
  LW_ASSIGN_OR_RETURN(c.rope_dims,
                      optional_count(file, key_of(arch, "rope.dimension_count"), c.head_dim, kMaxCount));
  if (c.rope_dims > c.head_dim || c.rope_dims % 2 != 0) {
    return invalid("rope dimension count " + std::to_string(c.rope_dims) +
                   " must be even and fit the head (" + std::to_string(c.head_dim) + ")");
  }
  LW_ASSIGN_OR_RETURN(c.rope_freq_base,
                      optional_positive_float(file, key_of(arch, "rope.freq_base"), 10000.0f));

  const std::string scaling_key = key_of(arch, "rope.scaling.type");
  if (file.has(scaling_key)) {
    LW_ASSIGN_OR_RETURN(std::string scaling, file.get<std::string>(scaling_key));
    if (scaling == "linear") {
      LW_ASSIGN_OR_RETURN(float factor,
                          optional_positive_float(file, key_of(arch, "rope.scaling.factor"), 1.0f));
      c.rope_freq_scale = 1.0f / factor;
    } else if (scaling != "none") {
      return make_error(ErrorCode::kUnsupported, "rope scaling '" + scaling + "' (" + scaling_key +
                                                     ") is not supported; supported: none, linear");
    }
  }

  const std::string eps_key = key_of(arch, "attention.layer_norm_rms_epsilon");
  if (!file.has(eps_key)) return make_error(ErrorCode::kNotFound, "missing metadata key '" + eps_key + "'");
  LW_ASSIGN_OR_RETURN(c.rms_norm_eps, optional_positive_float(file, eps_key, 1e-5f));

  LW_ASSIGN_OR_RETURN(c.sliding_window_in_file,
                      optional_count(file, key_of(arch, "attention.sliding_window"), 0, kMaxCount, true));
  c.sliding_window = 0;  // neither policy applies the window by default (architecture.hpp)

  // Vocabulary: the embedding table is the truth; metadata that disagrees is an error.
  const gguf::TensorInfo* embedding = file.find_tensor("token_embd.weight");
  if (embedding == nullptr) return make_error(ErrorCode::kNotFound, "missing tensor 'token_embd.weight'");
  if (embedding->shape.size() != 2 || embedding->shape[1] > kMaxCount) {
    return invalid("tensor 'token_embd.weight' must be 2-D (embedding width, vocabulary)");
  }
  c.vocab_size = embedding->shape[1];
  const std::string vocab_key = key_of(arch, "vocab_size");
  if (file.has(vocab_key)) {
    LW_ASSIGN_OR_RETURN(int64_t declared, file.get<int64_t>(vocab_key));
    if (declared != c.vocab_size) {
      return invalid("metadata '" + vocab_key + "' = " + std::to_string(declared) +
                     " but token_embd.weight has " + std::to_string(c.vocab_size) + " rows");
    }
  }
  return c;
}

}  // namespace llama_worker::model
