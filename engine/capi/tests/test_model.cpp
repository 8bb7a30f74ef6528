#include "capi/tests/test_model.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "gguf/file.hpp"
#include "gguf/writer.hpp"
#include "model/testing/tiny_model.hpp"

namespace llama_worker::capi::testing {
namespace {

// Copies the tokenizer keys the engine reads (vocabulary_from_gguf.hpp), typed.
Status copy_tokenizer(const gguf::File& vocabulary, gguf::Writer& writer) {
  for (const char* key : {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.chat_template"}) {
    if (!vocabulary.has(key)) continue;
    LW_ASSIGN_OR_RETURN(std::string value, vocabulary.get<std::string>(key));
    writer.set(key, value);
  }
  LW_ASSIGN_OR_RETURN(std::vector<std::string> tokens,
                      vocabulary.get_array<std::string>("tokenizer.ggml.tokens"));
  writer.set("tokenizer.ggml.tokens", tokens);
  if (vocabulary.has("tokenizer.ggml.scores")) {
    LW_ASSIGN_OR_RETURN(std::vector<float> scores, vocabulary.get_array<float>("tokenizer.ggml.scores"));
    writer.set("tokenizer.ggml.scores", scores);
  }
  if (vocabulary.has("tokenizer.ggml.token_type")) {
    LW_ASSIGN_OR_RETURN(std::vector<int32_t> types,
                        vocabulary.get_array<int32_t>("tokenizer.ggml.token_type"));
    writer.set("tokenizer.ggml.token_type", types);
  }
  if (vocabulary.has("tokenizer.ggml.merges")) {
    LW_ASSIGN_OR_RETURN(std::vector<std::string> merges,
                        vocabulary.get_array<std::string>("tokenizer.ggml.merges"));
    writer.set("tokenizer.ggml.merges", merges);
  }
  for (const char* key :
       {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
        "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"}) {
    if (!vocabulary.has(key)) continue;
    LW_ASSIGN_OR_RETURN(uint32_t value, vocabulary.get<uint32_t>(key));
    writer.set(key, value);
  }
  for (const char* key :
       {"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_space_prefix"}) {
    if (!vocabulary.has(key)) continue;
    LW_ASSIGN_OR_RETURN(bool value, vocabulary.get<bool>(key));
    writer.set(key, value);
  }
  return Status::ok();
}

}  // namespace

std::string phi3_vocabulary_path() {
  const char* directory = std::getenv("LLAMA_WORKER_SHARED_DATA_DIR");
  if (directory == nullptr || *directory == '\0') return {};
  return std::string(directory) + "/vocab/phi-3-mini-4k-instruct.vocab.gguf";
}

Status write_test_model(const std::string& vocabulary_path, const std::string& path,
                        const TestModelOptions& options) {
  auto vocabulary = gguf::File::open(vocabulary_path);
  if (!vocabulary) return vocabulary.error();
  LW_ASSIGN_OR_RETURN(std::vector<std::string> tokens,
                      vocabulary->get_array<std::string>("tokenizer.ggml.tokens"));

  model::testing::TinyModelSpec spec = model::testing::phi3_spec();
  spec.architecture = options.architecture;
  spec.vocab = static_cast<int64_t>(tokens.size());
  spec.context = options.context;
  spec.layers = options.layers;
  if (options.embd > 0) spec.embd = options.embd;
  if (options.ff > 0) spec.ff = options.ff;
  spec.seed = 7;
  if (options.corrupt_weights) spec.drop_tensors.insert("output_norm.weight");
  gguf::Writer writer = model::testing::tiny_model_writer(spec);
  if (options.corrupt_weights) {
    std::vector<uint8_t> nan_bytes(static_cast<size_t>(spec.embd) * 4);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int64_t i = 0; i < spec.embd; ++i) std::memcpy(nan_bytes.data() + i * 4, &nan, 4);
    writer.add_tensor("output_norm.weight", gguf::TensorType::kF32, {spec.embd}, std::move(nan_bytes));
  }
  if (options.with_tokenizer) LW_TRY(copy_tokenizer(*vocabulary, writer));
  return writer.write(path);
}

}  // namespace llama_worker::capi::testing
