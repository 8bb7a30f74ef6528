// Tensor types per llama.cpp's recipes (src/llama-quant.cpp, llama_tensor_get_type), checked
// on the full-size Qwen2.5-0.5B and Phi-3-mini plans without generating any weights.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "gguf/file.hpp"
#include "model/synthetic/model_plan.hpp"
#include "model/synthetic/recipe.hpp"
#include "test_data.hpp"

namespace llama_worker::synthetic {
namespace {

using gguf::TensorType;

std::map<std::string, TensorType> plan_types(const std::string& vocabulary, const std::string& recipe_name,
                                             bool tied) {
  auto file = gguf::File::open(testing::vocabulary_path(vocabulary));
  EXPECT_TRUE(file) << file.error().message;
  ShapeOverrides overrides;
  overrides.tied = tied;
  auto shape = model_shape(*file, overrides);
  EXPECT_TRUE(shape) << shape.error().message;
  auto recipe = find_recipe(recipe_name);
  EXPECT_TRUE(recipe);
  std::map<std::string, TensorType> types;
  for (const auto& spec : tensor_plan(*shape)) {
    types[spec.name] = choose_tensor_type(*recipe, {shape->layers, !shape->tied}, spec.name, spec.shape);
  }
  return types;
}

// llama.cpp's use_more_bits(i, n), written out for n = 24 and n = 32.
bool more_bits_24(int i) { return i < 3 || i >= 21 || (i - 3) % 3 == 2; }
bool more_bits_32(int i) { return i < 4 || i >= 28 || (i - 4) % 3 == 2; }

TEST(Recipe, Qwen25HalfBillionQ4KM) {
  const auto types = plan_types("qwen2.5-0.5b-instruct.vocab.gguf", "Q4_K_M", /*tied=*/true);
  EXPECT_EQ(types.size(), 2u + 24u * 12u);  // token_embd, output_norm; 12 per block
  EXPECT_EQ(types.count("output.weight"), 0u);
  EXPECT_EQ(types.at("token_embd.weight"), TensorType::kQ8_0);  // tied: the output rule, 896 % 256 != 0
  EXPECT_EQ(types.at("output_norm.weight"), TensorType::kF32);
  for (int i = 0; i < 24; ++i) {
    const std::string block = "blk." + std::to_string(i) + ".";
    SCOPED_TRACE(block);
    EXPECT_EQ(types.at(block + "attn_q.weight"), TensorType::kQ5_0);  // Q4_K falls back: 896 % 256 != 0
    EXPECT_EQ(types.at(block + "attn_k.weight"), TensorType::kQ5_0);
    EXPECT_EQ(types.at(block + "attn_v.weight"), more_bits_24(i) ? TensorType::kQ8_0 : TensorType::kQ5_0);
    EXPECT_EQ(types.at(block + "attn_output.weight"), TensorType::kQ5_0);
    EXPECT_EQ(types.at(block + "ffn_gate.weight"), TensorType::kQ5_0);
    EXPECT_EQ(types.at(block + "ffn_up.weight"), TensorType::kQ5_0);
    EXPECT_EQ(types.at(block + "ffn_down.weight"),
              more_bits_24(i) ? TensorType::kQ6_K : TensorType::kQ4_K);  // 4864 = 19 * 256
    EXPECT_EQ(types.at(block + "attn_q.bias"), TensorType::kF32);
    EXPECT_EQ(types.at(block + "attn_norm.weight"), TensorType::kF32);
  }
}

TEST(Recipe, Phi3MiniQ4KM) {
  const auto types = plan_types("phi-3-mini-4k-instruct.vocab.gguf", "Q4_K_M", /*tied=*/false);
  EXPECT_EQ(types.size(), 3u + 32u * 6u);
  EXPECT_EQ(types.at("token_embd.weight"), TensorType::kQ4_K);
  EXPECT_EQ(types.at("output.weight"), TensorType::kQ6_K);
  EXPECT_EQ(types.count("rope_factors_long.weight"), 0u);  // 4k context: no LongRoPE factors
  for (int i = 0; i < 32; ++i) {
    const std::string block = "blk." + std::to_string(i) + ".";
    SCOPED_TRACE(block);
    EXPECT_EQ(types.at(block + "attn_qkv.weight"), more_bits_32(i) ? TensorType::kQ6_K : TensorType::kQ4_K);
    EXPECT_EQ(types.at(block + "attn_output.weight"), TensorType::kQ4_K);
    EXPECT_EQ(types.at(block + "ffn_up.weight"), TensorType::kQ4_K);
    EXPECT_EQ(types.at(block + "ffn_down.weight"), more_bits_32(i) ? TensorType::kQ6_K : TensorType::kQ4_K);
    EXPECT_EQ(types.count(block + "ffn_gate.weight"), 0u);
  }
}

TEST(Recipe, PlainAndLegacyRecipes) {
  const auto f16 = plan_types("qwen2.5-0.5b-instruct.vocab.gguf", "F16", false);
  EXPECT_EQ(f16.at("token_embd.weight"), TensorType::kF16);
  EXPECT_EQ(f16.at("output.weight"), TensorType::kF16);
  EXPECT_EQ(f16.at("blk.3.attn_v.bias"), TensorType::kF32);
  const auto q8 = plan_types("qwen2.5-0.5b-instruct.vocab.gguf", "Q8_0", false);
  EXPECT_EQ(q8.at("output.weight"), TensorType::kQ8_0);
  EXPECT_EQ(q8.at("blk.0.attn_v.weight"), TensorType::kQ8_0);
  const auto q4 = plan_types("phi-3-mini-4k-instruct.vocab.gguf", "Q4_0", false);
  EXPECT_EQ(q4.at("output.weight"), TensorType::kQ6_K);  // llama.cpp's output rule applies to Q4_0 too
  EXPECT_EQ(q4.at("token_embd.weight"), TensorType::kQ4_0);
  EXPECT_EQ(q4.at("blk.7.ffn_down.weight"), TensorType::kQ4_0);
  const auto q4_qwen = plan_types("qwen2.5-0.5b-instruct.vocab.gguf", "Q4_0", false);
  EXPECT_EQ(q4_qwen.at("output.weight"), TensorType::kQ8_0);  // Q6_K falls back on 896-wide rows
}

TEST(Recipe, FallbacksForRowsThatHoldNoWholeBlock) {
  const auto q5_k_s = *find_recipe("Q5_K_S");
  const RecipeContext context{8, true};
  EXPECT_EQ(choose_tensor_type(q5_k_s, context, "blk.0.attn_q.weight", {896, 896}), TensorType::kQ5_1);
  EXPECT_EQ(choose_tensor_type(q5_k_s, context, "blk.0.attn_q.weight", {1024, 896}), TensorType::kQ5_K);
  const auto q4_k_m = *find_recipe("Q4_K_M");
  EXPECT_EQ(choose_tensor_type(q4_k_m, context, "blk.0.attn_q.weight", {48, 48}), TensorType::kF16);
  EXPECT_EQ(choose_tensor_type(q4_k_m, context, "blk.0.attn_v.weight", {96, 48}),
            TensorType::kQ8_0);  // layer 0: Q6_K
  EXPECT_EQ(choose_tensor_type(q4_k_m, context, "blk.1.attn_v.weight", {96, 48}), TensorType::kQ5_0);
  const auto q4_k_s = *find_recipe("Q4_K_S");
  EXPECT_EQ(choose_tensor_type(q4_k_s, context, "blk.3.attn_v.weight", {512, 64}), TensorType::kQ5_K);
  EXPECT_EQ(choose_tensor_type(q4_k_s, context, "blk.4.attn_v.weight", {512, 64}), TensorType::kQ4_K);
  EXPECT_EQ(choose_tensor_type(q4_k_s, context, "blk.0.ffn_down.weight", {512, 64}), TensorType::kQ5_K);
  EXPECT_EQ(choose_tensor_type(q4_k_s, context, "blk.1.ffn_down.weight", {512, 64}), TensorType::kQ4_K);
  EXPECT_EQ(choose_tensor_type(q4_k_m, context, "blk.1.ffn_norm.weight", {512}), TensorType::kF32);
}

TEST(Recipe, UnknownRecipeListsTheSupportedOnes) {
  const auto recipe = find_recipe("Q3_K_XL");
  ASSERT_FALSE(recipe);
  EXPECT_NE(recipe.error().message.find("Q3_K_XL"), std::string::npos);
  EXPECT_NE(recipe.error().message.find("Q4_K_M"), std::string::npos);
}

}  // namespace
}  // namespace llama_worker::synthetic
