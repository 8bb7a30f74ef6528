#include "quant/quantize.hpp"

#include <cmath>
#include <cstdio>

#include "quant/format_dispatch.hpp"

namespace llama_worker::quant {

Status quantize_row(gguf::TensorType type, const float* src, uint8_t* dst, int64_t count) {
  return visit_format(type, "quantization", [&](auto format) -> Status {
    using Format = decltype(format);
    LW_TRY(check_element_count<Format>(count));
    if (count > 0 && (src == nullptr || dst == nullptr)) {
      return make_error(ErrorCode::kInvalidArgument, "quantize_row: null source or destination");
    }
    for (int64_t i = 0; i < count; ++i) {
      if (!(std::fabs(src[i]) <= Format::kMaxMagnitude)) {  // also rejects NaN
        char value[32];
        std::snprintf(value, sizeof value, "%g", static_cast<double>(src[i]));
        return make_error(ErrorCode::kInvalidArgument,
                          "cannot quantize element " + std::to_string(i) + " (value " + value + ") to " +
                              std::string(gguf::tensor_type_name(Format::kType)) + ": " +
                              (std::isfinite(src[i]) ? "beyond the format's range" : "not a finite number"));
      }
    }
    const int64_t blocks = count / Format::kBlockElements;
    for (int64_t b = 0; b < blocks; ++b) {
      Format::quantize_block(src + b * Format::kBlockElements, dst + b * Format::kBlockBytes);
    }
    return Status::ok();
  });
}

}  // namespace llama_worker::quant
