// Sampling parameters and their validation. The pipeline they drive (sampler.hpp) follows
// Hugging Face transformers' order: repetition penalty -> temperature -> top-k -> top-p -> min-p
// -> draw. Every "disabled" value is a real value of the parameter, never a sentinel that could
// be passed by accident: temperature 0 is greedy, top_k 0, top_p 1, min_p 0 and penalty 1 are
// no-ops.
#pragma once

#include <cstdint>

#include "core/status.hpp"

namespace llama_worker::sampling {

struct SamplingParams {
  float temperature = 0.8f;         // >= 0, finite; 0 = greedy (argmax, lowest id on ties)
  int32_t top_k = 40;               // >= 0; keep the k most likely tokens; 0 = all
  float top_p = 0.95f;              // (0, 1]; keep the smallest prefix with mass >= top_p; 1 = all
  float min_p = 0.05f;              // [0, 1]; drop tokens with p < min_p * p_max; 0 = none
  float repetition_penalty = 1.0f;  // > 0, finite; logit / penalty if > 0, * penalty if <= 0; 1 = none
  int32_t repeat_last_n = 64;       // penalise tokens among the last n of the history; -1 = all, 0 = none
  uint64_t seed = 0;                // the generator's seed
};

// Ok, or kInvalidArgument naming the parameter and the value ("temperature is NaN").
Status validate(const SamplingParams& params);

}  // namespace llama_worker::sampling
