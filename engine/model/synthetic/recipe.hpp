// Quantization recipes: which ggml type each tensor of a synthetic model gets, chosen exactly as
// llama.cpp's llama-quantize chooses it (ggml-org/llama.cpp src/llama-quant.cpp as of 2026:
// tensor_allows_quantization, llama_tensor_get_type_impl, tensor_type_fallback), restricted to
// the recipes below and to dense (non-MoE, non-Falcon, non-70B) models. Plain recipes (F32, F16,
// BF16) write every 2-D weight in that type, as convert_hf_to_gguf.py --outtype does.
//
// Rules implemented (Q4_K_M shown; the others differ only where noted in recipe.cpp):
//   - only tensors whose name ends in "weight", with >= 2 dimensions and not "*_norm.weight",
//     are quantized; the rest (norms, biases, rope factors) stay F32
//   - output.weight, or token_embd.weight when there is no output.weight (tied): Q8_0 when the
//     row length is not a multiple of the default type's block, else Q6_K (unless the default
//     is Q8_0)
//   - attn_v.weight and attn_qkv.weight (both "attn_v-like" in llama.cpp): Q6_K on
//     "use_more_bits" layers (i < n/8, i >= 7n/8, (i - n/8) % 3 == 2). Older llama.cpp gave
//     attn_qkv Q5_K instead; the Phi-3 file size measured with the 2026 llama.cpp
//     (../shared/PERFORMANCE.md) matches the newer rule to the byte (README.md)
//   - ffn_down: Q6_K on use_more_bits layers
//   - fallback when the row length is not a multiple of the chosen type's block:
//     Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, and F16 if even that does not divide
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::synthetic {

enum class RecipeMix {
  kPlain,   // every quantizable weight gets default_type (F32/F16/BF16) — no llama.cpp rules
  kLegacy,  // Q4_0 ... Q8_0: llama_tensor_get_type with that ftype (output/tied embedding rule)
  kQ4_K_S,
  kQ4_K_M,
  kQ5_K_S,
  kQ5_K_M,
  kQ6_K,
};

struct QuantRecipe {
  std::string_view name;          // as given on the command line, e.g. "Q4_K_M"
  uint32_t file_type;             // llama_ftype, written to general.file_type
  gguf::TensorType default_type;  // what most 2-D weights get
  RecipeMix mix;
};

// The recipe of that name; kInvalidArgument listing the supported names otherwise.
Result<QuantRecipe> find_recipe(std::string_view name);
std::string supported_recipe_names();  // "F32, F16, BF16, Q8_0, ..."

// The model-level facts llama_tensor_get_type consults.
struct RecipeContext {
  int64_t layers = 0;       // hparams.n_layer (also the count of attn_v / attn_qkv tensors)
  bool has_output = false;  // the model has output.weight (else the embedding is the output)
};

// The type of one tensor. shape in ggml order (shape[0] = row length).
gguf::TensorType choose_tensor_type(const QuantRecipe& recipe, const RecipeContext& context,
                                    std::string_view name, const std::vector<int64_t>& shape);

}  // namespace llama_worker::synthetic
