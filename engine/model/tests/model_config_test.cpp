// Model configuration and the adapter on tiny hand-built files: each architecture's quirks
// resolve into the right BlockSpec, and every validation names what is wrong.
#include <gtest/gtest.h>

#include "gguf/file.hpp"
#include "model/llama_inference_adapter.hpp"
#include "model/testing/tiny_model.hpp"

namespace llama_worker::model {
namespace {

using testing::TinyModelSpec;

struct Loaded {
  std::vector<uint8_t> bytes;
  std::optional<gguf::File> file;
};

// Builds the file; the adapter result is returned through `out`.
Result<LlamaInferenceAdapter> adapt(const TinyModelSpec& spec, Loaded& loaded) {
  auto bytes = testing::tiny_model_bytes(spec);
  if (!bytes) return bytes.error();
  loaded.bytes = std::move(*bytes);
  auto file = gguf::File::from_bytes(loaded.bytes, "tiny.gguf");
  if (!file) return file.error();
  loaded.file.emplace(std::move(*file));
  return LlamaInferenceAdapter::create(*loaded.file);
}

void expect_error(const TinyModelSpec& spec, ErrorCode code, const std::string& fragment) {
  Loaded loaded;
  auto adapter = adapt(spec, loaded);
  ASSERT_FALSE(adapter) << "expected an error containing: " << fragment;
  EXPECT_EQ(adapter.error().code, code) << adapter.error().message;
  EXPECT_NE(adapter.error().message.find(fragment), std::string::npos) << adapter.error().message;
}

TEST(ModelConfig, LlamaUsesNormalRopeAndSeparateProjections) {
  Loaded loaded;
  auto adapter = adapt(testing::llama_spec(), loaded);
  ASSERT_TRUE(adapter) << adapter.error().message;
  const ModelConfig& c = adapter->config();
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.vocab_size, 37);
  EXPECT_EQ(c.head_dim, 6);
  EXPECT_EQ(c.rope_dims, 6);  // default: the head
  EXPECT_EQ(c.kv_width(), 12);
  const BlockSpec& b = adapter->block();
  EXPECT_EQ(b.rope_style, RopeStyle::kNormal);
  EXPECT_FALSE(b.fused_qkv);
  EXPECT_FALSE(b.fused_gate_up);
  EXPECT_FALSE(b.qkv_bias);
  EXPECT_FALSE(b.tied_output);
  EXPECT_EQ(adapter->weights().layers.size(), 2u);
  EXPECT_EQ(adapter->weights().layers[1].wk.rows, 12);
}

TEST(ModelConfig, Qwen2HasNeoxRopeBiasesAndTiedOutput) {
  Loaded loaded;
  auto adapter = adapt(testing::qwen2_spec(), loaded);
  ASSERT_TRUE(adapter) << adapter.error().message;
  const BlockSpec& b = adapter->block();
  EXPECT_EQ(b.rope_style, RopeStyle::kNeox);
  EXPECT_TRUE(b.qkv_bias);
  EXPECT_TRUE(b.tied_output);
  EXPECT_EQ(adapter->weights().output.data, adapter->weights().token_embd.data);
  EXPECT_EQ(adapter->weights().layers[0].bq.row_length, 24);
}

TEST(ModelConfig, Phi3HasFusedProjectionsAndReadsButDoesNotApplyItsSlidingWindow) {
  Loaded loaded;
  auto adapter = adapt(testing::phi3_spec(), loaded);
  ASSERT_TRUE(adapter) << adapter.error().message;
  const BlockSpec& b = adapter->block();
  EXPECT_EQ(b.rope_style, RopeStyle::kNeox);
  EXPECT_TRUE(b.fused_qkv);
  EXPECT_TRUE(b.fused_gate_up);
  EXPECT_FALSE(b.qkv_bias);
  EXPECT_EQ(adapter->config().sliding_window_in_file, 7);
  EXPECT_EQ(b.sliding_window, 0);  // llama.cpp turns Phi-3's window off; so do we by default
  ASSERT_TRUE(adapter->enable_sliding_window());
  EXPECT_EQ(adapter->block().sliding_window, 7);
  EXPECT_EQ(adapter->weights().layers[0].wqkv.rows, 24 + 2 * 24);
  EXPECT_EQ(adapter->weights().layers[0].w_up.rows, 80);
}

TEST(ModelConfig, SlidingWindowCannotBeEnabledWhereNoneIsDeclared) {
  Loaded loaded;
  auto adapter = adapt(testing::llama_spec(), loaded);
  ASSERT_TRUE(adapter);
  EXPECT_FALSE(adapter->enable_sliding_window());
}

TEST(ModelConfig, UnsupportedArchitectureIsNamed) {
  auto spec = testing::llama_spec();
  spec.architecture = "gpt2";
  expect_error(spec, ErrorCode::kUnsupported,
               "unsupported architecture 'gpt2' (supported: llama, qwen2, phi3)");
}

TEST(ModelConfig, DefaultsApplyWhenOptionalKeysAreMissing) {
  auto spec = testing::llama_spec();
  spec.kv_heads = spec.heads;  // tensors sized for MHA
  spec.drop_keys = {"attention.head_count_kv", "rope.freq_base"};
  Loaded loaded;
  auto adapter = adapt(spec, loaded);
  ASSERT_TRUE(adapter) << adapter.error().message;
  EXPECT_EQ(adapter->config().kv_head_count, 4);
  EXPECT_EQ(adapter->config().rope_freq_base, 10000.0f);
}

TEST(ModelConfig, RequiredKeyMissing) {
  auto spec = testing::llama_spec();
  spec.drop_keys = {"block_count"};
  expect_error(spec, ErrorCode::kNotFound, "llama.block_count");
}

TEST(ModelConfig, HeadsMustDivideTheWidth) {
  auto spec = testing::llama_spec();
  spec.extra_counts["attention.head_count"] = 5;  // overrides 4 (written later)
  expect_error(spec, ErrorCode::kMalformedFile, "not divisible by the head count 5");
}

TEST(ModelConfig, KvHeadsMustDivideHeads) {
  auto spec = testing::llama_spec();
  spec.extra_counts["attention.head_count_kv"] = 3;
  expect_error(spec, ErrorCode::kMalformedFile, "not divisible by the KV head count 3");
}

TEST(ModelConfig, RopeDimensionsMustFitTheHead) {
  auto spec = testing::llama_spec();
  spec.extra_counts["rope.dimension_count"] = 8;
  expect_error(spec, ErrorCode::kMalformedFile, "rope dimension count 8");
}

TEST(ModelConfig, MissingTensorIsNamed) {
  auto spec = testing::qwen2_spec();
  spec.drop_tensors = {"blk.1.attn_k.bias"};
  expect_error(spec, ErrorCode::kNotFound, "missing tensor 'blk.1.attn_k.bias'");
}

TEST(ModelConfig, WrongShapeNamesTensorAndBothShapes) {
  auto spec = testing::llama_spec();
  spec.reshape["blk.0.ffn_down.weight"] = {40, 25};
  expect_error(spec, ErrorCode::kMalformedFile,
               "tensor 'blk.0.ffn_down.weight' has shape [40, 25], but the hyperparameters imply [40, 24]");
}

TEST(ModelConfig, Phi3WithoutOutputWeightIsAnError) {
  auto spec = testing::phi3_spec();
  spec.tied = true;
  expect_error(spec, ErrorCode::kNotFound, "missing tensor 'output.weight'");
}

TEST(ModelConfig, UnexplainedTensorIsAnError) {
  auto spec = testing::phi3_spec();
  spec.extra_tensors = {"blk.0.attn_q.bias"};
  expect_error(spec, ErrorCode::kUnsupported, "unexpected tensor 'blk.0.attn_q.bias'");
}

TEST(ModelConfig, VocabularyMetadataMustMatchTheEmbedding) {
  auto spec = testing::llama_spec();
  spec.extra_counts["vocab_size"] = 38;
  expect_error(spec, ErrorCode::kMalformedFile, "token_embd.weight has 37 rows");
}

}  // namespace
}  // namespace llama_worker::model
