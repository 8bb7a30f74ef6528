#include "model/architecture.hpp"

#include <string>

namespace llama_worker::model {

const std::vector<ArchitectureTraits>& supported_architectures() {
  static const std::vector<ArchitectureTraits> table = {
      {.name = "llama",
       .rope_style = RopeStyle::kNormal,
       .qkv_bias = BiasPolicy::kOptional,
       .allows_fused_qkv = false,
       .fused_gate_up = false,
       .allows_tied_output = true,
       .sliding_window = SlidingWindowPolicy::kNotUsed},
      {.name = "qwen2",
       .rope_style = RopeStyle::kNeox,
       .qkv_bias = BiasPolicy::kRequired,
       .allows_fused_qkv = false,
       .fused_gate_up = false,
       .allows_tied_output = true,
       .sliding_window = SlidingWindowPolicy::kNotUsed},
      {.name = "phi3",
       .rope_style = RopeStyle::kNeox,
       .qkv_bias = BiasPolicy::kNone,
       .allows_fused_qkv = true,
       .fused_gate_up = true,
       .allows_tied_output = false,
       .sliding_window = SlidingWindowPolicy::kReadNotApplied},
  };
  return table;
}

Result<const ArchitectureTraits*> find_architecture(std::string_view name) {
  std::string supported;
  for (const ArchitectureTraits& traits : supported_architectures()) {
    if (traits.name == name) return &traits;
    supported += (supported.empty() ? "" : ", ") + std::string(traits.name);
  }
  return make_error(ErrorCode::kUnsupported,
                    "unsupported architecture '" + std::string(name) + "' (supported: " + supported + ")");
}

}  // namespace llama_worker::model
