#include "sampling/sampling_params.hpp"

#include <cmath>
#include <cstdio>
#include <string>

namespace llama_worker::sampling {
namespace {

std::string describe(float value) {
  if (std::isnan(value)) return "NaN";
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(value));
  return text;
}

Error invalid(const std::string& name, const std::string& value, const std::string& rule) {
  return make_error(ErrorCode::kInvalidArgument, name + " is " + value + ": it must be " + rule);
}

}  // namespace

Status validate(const SamplingParams& params) {
  if (!std::isfinite(params.temperature) || params.temperature < 0.0f) {
    return invalid("temperature", describe(params.temperature), "a finite number >= 0 (0 = greedy)");
  }
  if (params.top_k < 0) return invalid("top-k", std::to_string(params.top_k), ">= 0 (0 = disabled)");
  if (!(params.top_p > 0.0f && params.top_p <= 1.0f)) {
    return invalid("top-p", describe(params.top_p), "in (0, 1] (1 = disabled)");
  }
  if (!(params.min_p >= 0.0f && params.min_p <= 1.0f)) {
    return invalid("min-p", describe(params.min_p), "in [0, 1] (0 = disabled)");
  }
  if (!std::isfinite(params.repetition_penalty) || params.repetition_penalty <= 0.0f) {
    return invalid("repetition penalty", describe(params.repetition_penalty),
                   "a finite number > 0 (1 = disabled)");
  }
  if (params.repeat_last_n < -1) {
    return invalid("repeat-last-n", std::to_string(params.repeat_last_n),
                   ">= -1 (-1 = whole history, 0 = none)");
  }
  return Status::ok();
}

}  // namespace llama_worker::sampling
