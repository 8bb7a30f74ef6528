// Small synthetic models of each architecture: valid GGUF that our reader accepts, metadata and
// tokenizer copied, the planned tensors with sane values, identical bytes for any thread count,
// and pinned SHA-256 digests (a change to the generator, the quantizers or the writer shows here).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "gguf/file.hpp"
#include "model/synthetic/sha256.hpp"
#include "model/synthetic/synthetic_model.hpp"
#include "quant/dequantize.hpp"
#include "test_data.hpp"

namespace llama_worker::synthetic {
namespace {

SyntheticOptions small_options(const std::string& vocabulary, const std::string& recipe, uint64_t seed) {
  SyntheticOptions options;
  options.vocabulary_path = testing::vocabulary_path(vocabulary);
  options.recipe = recipe;
  options.seed = seed;
  options.overrides.layers = 2;
  options.overrides.embedding = 256;
  options.overrides.feed_forward = 512;
  options.overrides.heads = 4;
  options.overrides.kv_heads = 2;
  options.threads = 2;
  return options;
}

std::vector<uint8_t> build_bytes(const SyntheticOptions& options, SyntheticSummary* summary = nullptr) {
  gguf::Writer writer;
  auto built = build_synthetic_model(options, writer);
  EXPECT_TRUE(built) << built.error().message;
  if (!built) return {};
  if (summary != nullptr) *summary = *built;
  auto bytes = writer.to_bytes();
  EXPECT_TRUE(bytes) << bytes.error().message;
  return bytes ? *bytes : std::vector<uint8_t>{};
}

// RMS of a dequantized tensor.
double tensor_rms(const gguf::TensorInfo& tensor) {
  std::vector<float> values(static_cast<size_t>(tensor.element_count()));
  EXPECT_TRUE(quant::dequantize_row(tensor.type, tensor.data, values.data(), tensor.element_count()));
  double sum = 0.0;
  for (float v : values) sum += static_cast<double>(v) * v;
  return std::sqrt(sum / static_cast<double>(values.size()));
}

TEST(SyntheticModel, Qwen2SmallModelIsValidAndComplete) {
  SyntheticSummary summary;
  const auto bytes = build_bytes(small_options("qwen2.5-0.5b-instruct.vocab.gguf", "Q4_K_M", 42), &summary);
  auto file = gguf::File::from_bytes(bytes, "synthetic-qwen2");
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(*file->get<uint32_t>("qwen2.block_count"), 2u);
  EXPECT_EQ(*file->get<uint32_t>("qwen2.embedding_length"), 256u);
  EXPECT_EQ(*file->get<uint32_t>("qwen2.attention.head_count_kv"), 2u);
  EXPECT_EQ(*file->get<uint32_t>("general.file_type"), 15u);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
  EXPECT_EQ(*file->get<std::string>("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(file->find("tokenizer.ggml.tokens")->count, 151936u);
  EXPECT_EQ(file->find("tokenizer.ggml.merges")->count, 151387u);
  EXPECT_TRUE(file->has("tokenizer.chat_template"));
  EXPECT_EQ(file->tensors().size(), 3u + 2u * 12u);
  EXPECT_EQ(summary.tensor_count, file->tensors().size());

  const auto* q = file->find_tensor("blk.1.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{256, 256}));
  EXPECT_EQ(q->type, gguf::TensorType::kQ4_K);
  EXPECT_EQ(file->find_tensor("blk.0.attn_k.weight")->shape, (std::vector<int64_t>{256, 128}));
  EXPECT_EQ(file->find_tensor("blk.0.attn_k.bias")->shape, (std::vector<int64_t>{128}));
  EXPECT_EQ(file->find_tensor("blk.0.attn_v.weight")->type,
            gguf::TensorType::kQ4_K);  // use_more_bits(0, 2) is false
  EXPECT_EQ(file->find_tensor("blk.1.attn_v.weight")->type, gguf::TensorType::kQ6_K);  // 1 >= 7 * 2 / 8
  EXPECT_EQ(file->find_tensor("blk.0.ffn_down.weight")->shape, (std::vector<int64_t>{512, 256}));
  EXPECT_EQ(file->find_tensor("output.weight")->type, gguf::TensorType::kQ6_K);
  EXPECT_EQ(file->find_tensor("token_embd.weight")->shape, (std::vector<int64_t>{256, 151936}));

  // Sane magnitudes: matrices ~1/sqrt(row), norms ~1, the output ~2/sqrt(E).
  EXPECT_NEAR(tensor_rms(*q), 1.0 / 16.0, 0.01);
  EXPECT_NEAR(tensor_rms(*file->find_tensor("blk.0.attn_norm.weight")), 1.0, 0.05);
  EXPECT_NEAR(tensor_rms(*file->find_tensor("output.weight")), 2.0 / 16.0, 0.01);
}

TEST(SyntheticModel, Phi3AndLlamaLayouts) {
  const auto phi3 = build_bytes(small_options("phi-3-mini-4k-instruct.vocab.gguf", "Q8_0", 7));
  auto file = gguf::File::from_bytes(phi3, "synthetic-phi3");
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->find_tensor("blk.0.attn_qkv.weight")->shape, (std::vector<int64_t>{256, 256 + 2 * 128}));
  EXPECT_EQ(file->find_tensor("blk.0.ffn_up.weight")->shape, (std::vector<int64_t>{256, 1024}));
  EXPECT_EQ(file->find_tensor("blk.0.ffn_gate.weight"), nullptr);
  EXPECT_EQ(file->find_tensor("blk.0.attn_q.weight"), nullptr);
  EXPECT_EQ(*file->get<uint32_t>("phi3.rope.dimension_count"), 64u);  // the new head size
  EXPECT_EQ(file->find_tensor("blk.1.ffn_down.weight")->type, gguf::TensorType::kQ8_0);

  const auto llama = build_bytes(small_options("llama-spm.vocab.gguf", "F16", 7));
  auto llama_file = gguf::File::from_bytes(llama, "synthetic-llama");
  ASSERT_TRUE(llama_file) << llama_file.error().message;
  EXPECT_EQ(llama_file->find_tensor("blk.0.attn_q.bias"), nullptr);
  EXPECT_EQ(llama_file->find_tensor("blk.0.ffn_gate.weight")->type, gguf::TensorType::kF16);
  EXPECT_EQ(llama_file->find_tensor("blk.0.ffn_norm.weight")->type, gguf::TensorType::kF32);
  EXPECT_EQ(*llama_file->get<uint32_t>("llama.rope.dimension_count"), 64u);
  EXPECT_EQ(*llama_file->get<uint32_t>("llama.vocab_size"), 32000u);
}

TEST(SyntheticModel, SameBytesForAnyThreadCountDifferentForAnotherSeed) {
  auto options = small_options("phi-3-mini-4k-instruct.vocab.gguf", "Q4_K_M", 3);
  options.threads = 1;
  const auto one = build_bytes(options);
  options.threads = 5;
  const auto five = build_bytes(options);
  EXPECT_EQ(one, five);
  options.seed = 4;
  EXPECT_NE(build_bytes(options), one);
}

// Pinned digests: regenerate with `llama-worker mkmodel` (README.md) only after a deliberate
// format change, and say why in the commit.
TEST(SyntheticModel, PinnedSha256) {
  auto qwen = small_options("qwen2.5-0.5b-instruct.vocab.gguf", "Q4_K_M", 42);
  EXPECT_EQ(sha256_hex(build_bytes(qwen)),
            "8e36063670f13f3a50398ec2b178fee659730d56b94c0d92d5cc8c9755b22a92");
  auto phi3 = small_options("phi-3-mini-4k-instruct.vocab.gguf", "Q4_K_M", 42);
  EXPECT_EQ(sha256_hex(build_bytes(phi3)),
            "202fd6a4f219e7448a3b0eb46696fbd15a66a5be0c9da6d90f209c71f4e28a2e");
}

TEST(SyntheticModel, ClearErrors) {
  gguf::Writer writer;
  auto options = small_options("gpt-2.vocab.gguf", "Q4_K_M", 1);
  auto gpt2 = build_synthetic_model(options, writer);
  ASSERT_FALSE(gpt2);
  EXPECT_EQ(gpt2.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(gpt2.error().message.find("gpt2"), std::string::npos) << gpt2.error().message;

  options = small_options("qwen2.5-0.5b-instruct.vocab.gguf", "Q4_K_M", 1);
  options.overrides.heads = 3;
  gguf::Writer writer2;
  auto heads = build_synthetic_model(options, writer2);
  ASSERT_FALSE(heads);
  EXPECT_NE(heads.error().message.find("head count 3"), std::string::npos) << heads.error().message;

  options = small_options("phi-3-mini-4k-instruct.vocab.gguf", "Q4_K_M", 1);
  options.overrides.tied = true;
  gguf::Writer writer3;
  EXPECT_FALSE(build_synthetic_model(options, writer3));

  options = small_options("qwen2.5-0.5b-instruct.vocab.gguf", "IQ2_XXS", 1);
  gguf::Writer writer4;
  auto recipe = build_synthetic_model(options, writer4);
  ASSERT_FALSE(recipe);
  EXPECT_NE(recipe.error().message.find("IQ2_XXS"), std::string::npos);
}

}  // namespace
}  // namespace llama_worker::synthetic
