// Synthetic models: a GGUF file with the exact metadata, tokenizer and tensor shapes of a real
// model and deterministic random weights, quantized as llama.cpp's recipe would (recipe.hpp).
// Same options -> same bytes on every machine, whatever the thread count.
//
//   metadata: every key of the vocabulary file in its order (general.*, tokenizer.*, the
//             architecture's hyperparameters), then: overridden hyperparameters replaced in
//             place (and <arch>.rope.dimension_count set to the new head size when the width or
//             head count changed), general.file_type = the recipe's llama_ftype,
//             general.quantization_version = 2, general.description naming the generator
//   tensors:  model_plan.hpp's list, values from weight_values.hpp, quantized with
//             quant::quantize_row
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/status.hpp"
#include "gguf/writer.hpp"
#include "model/synthetic/model_plan.hpp"
#include "model/synthetic/recipe.hpp"

namespace llama_worker::synthetic {

struct SyntheticOptions {
  std::string vocabulary_path;  // a weightless GGUF (../shared/data/vocab/*.vocab.gguf)
  std::string recipe = "Q4_K_M";
  uint64_t seed = 0;
  ShapeOverrides overrides;
  int threads = 0;  // 0: one per hardware thread
};

struct SyntheticSummary {
  ModelShape shape;
  QuantRecipe recipe{};
  size_t tensor_count = 0;
  uint64_t tensor_bytes = 0;               // sum of tensor data sizes, without padding
  uint64_t parameters = 0;                 // sum of element counts
  std::map<std::string, int> type_counts;  // tensor type name -> number of tensors
};

// Fills `writer` (fresh) with the model. Errors name the file, the key or the tensor.
Result<SyntheticSummary> build_synthetic_model(const SyntheticOptions& options, gguf::Writer& writer);

}  // namespace llama_worker::synthetic
