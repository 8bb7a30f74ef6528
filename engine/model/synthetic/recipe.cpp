#include "model/synthetic/recipe.hpp"

#include <array>
#include <charconv>

namespace llama_worker::synthetic {
namespace {

using gguf::TensorType;

// llama_ftype ids (llama.h).
constexpr std::array kRecipes = {
    QuantRecipe{"F32", 0, TensorType::kF32, RecipeMix::kPlain},
    QuantRecipe{"F16", 1, TensorType::kF16, RecipeMix::kPlain},
    QuantRecipe{"BF16", 32, TensorType::kBF16, RecipeMix::kPlain},
    QuantRecipe{"Q8_0", 7, TensorType::kQ8_0, RecipeMix::kLegacy},
    QuantRecipe{"Q4_0", 2, TensorType::kQ4_0, RecipeMix::kLegacy},
    QuantRecipe{"Q4_1", 3, TensorType::kQ4_1, RecipeMix::kLegacy},
    QuantRecipe{"Q5_0", 8, TensorType::kQ5_0, RecipeMix::kLegacy},
    QuantRecipe{"Q5_1", 9, TensorType::kQ5_1, RecipeMix::kLegacy},
    QuantRecipe{"Q4_K_S", 14, TensorType::kQ4_K, RecipeMix::kQ4_K_S},
    QuantRecipe{"Q4_K_M", 15, TensorType::kQ4_K, RecipeMix::kQ4_K_M},
    QuantRecipe{"Q5_K_S", 16, TensorType::kQ5_K, RecipeMix::kQ5_K_S},
    QuantRecipe{"Q5_K_M", 17, TensorType::kQ5_K, RecipeMix::kQ5_K_M},
    QuantRecipe{"Q6_K", 18, TensorType::kQ6_K, RecipeMix::kQ6_K},
};

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}
bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// The N of "blk.N." (-1 when the name has none): llama.cpp counts attn_v / ffn_down tensors in
// its loader's order, which sorts by this layer number, so the count equals N.
int64_t layer_of(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int64_t layer = -1;
  const auto [end, error] = std::from_chars(name.data() + 4, name.data() + name.size(), layer);
  return error == std::errc() && end != name.data() + name.size() && *end == '.' ? layer : -1;
}

bool use_more_bits(int64_t layer, int64_t layers) {
  return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

// The "should this tensor be quantized" filter of llama_model_quantize_impl (dense models).
bool is_quantizable(std::string_view name, const std::vector<int64_t>& shape) {
  return ends_with(name, "weight") && shape.size() >= 2 && !contains(name, "_norm.weight");
}

// llama_tensor_get_type's fallback for rows that do not hold whole blocks.
TensorType fallback_for_row(TensorType type, int64_t row) {
  if (row % gguf::traits(type).block_size == 0) return type;
  switch (type) {
    case TensorType::kQ4_K:
      type = TensorType::kQ5_0;
      break;
    case TensorType::kQ5_K:
      type = TensorType::kQ5_1;
      break;
    case TensorType::kQ6_K:
      type = TensorType::kQ8_0;
      break;
    default:
      break;  // the 32-wide types: only F16 remains
  }
  return row % gguf::traits(type).block_size == 0 ? type : TensorType::kF16;
}

}  // namespace

Result<QuantRecipe> find_recipe(std::string_view name) {
  for (const auto& recipe : kRecipes) {
    if (recipe.name == name) return recipe;
  }
  return make_error(ErrorCode::kInvalidArgument, "unknown quantization recipe '" + std::string(name) +
                                                     "' (supported: " + supported_recipe_names() + ")");
}

std::string supported_recipe_names() {
  std::string names;
  for (const auto& recipe : kRecipes) names += (names.empty() ? "" : ", ") + std::string(recipe.name);
  return names;
}

TensorType choose_tensor_type(const QuantRecipe& recipe, const RecipeContext& context, std::string_view name,
                              const std::vector<int64_t>& shape) {
  if (!is_quantizable(name, shape)) return TensorType::kF32;
  if (recipe.mix == RecipeMix::kPlain) return recipe.default_type;

  const RecipeMix mix = recipe.mix;
  const int64_t row = shape[0];
  const int64_t layer = layer_of(name);
  TensorType type = recipe.default_type;
  if (name == "output.weight" || (!context.has_output && name == "token_embd.weight")) {
    if (row % gguf::traits(type).block_size != 0) {
      type = TensorType::kQ8_0;
    } else if (type != TensorType::kQ8_0) {
      type = TensorType::kQ6_K;
    }
  } else if (name == "token_embd.weight") {
    // unchanged for every recipe here (only the IQ and TQ ftypes change it)
  } else if (contains(name, "attn_v.weight") || contains(name, "attn_qkv.weight")) {
    // llama.cpp counts attn_qkv among the "attn_v-like" tensors (category_is_attn_v).
    if ((mix == RecipeMix::kQ4_K_M || mix == RecipeMix::kQ5_K_M) && use_more_bits(layer, context.layers)) {
      type = TensorType::kQ6_K;
    } else if (mix == RecipeMix::kQ4_K_S && layer < 4) {
      type = TensorType::kQ5_K;
    }
  } else if (contains(name, "ffn_down")) {
    if ((mix == RecipeMix::kQ4_K_M || mix == RecipeMix::kQ5_K_M) && use_more_bits(layer, context.layers)) {
      type = TensorType::kQ6_K;
    } else if (mix == RecipeMix::kQ4_K_S && layer < context.layers / 8) {
      type = TensorType::kQ5_K;
    }
  }
  return fallback_for_row(type, row);
}

}  // namespace llama_worker::synthetic
