#include "quant/dequantize.hpp"

#include <bit>
#include <cstring>

#include "quant/format_dispatch.hpp"

namespace llama_worker::quant {

Status dequantize_row(gguf::TensorType type, const uint8_t* src, float* dst, int64_t count) {
  return visit_format(type, "dequantization", [&](auto format) -> Status {
    using Format = decltype(format);
    LW_TRY(check_element_count<Format>(count));
    if (count > 0 && (src == nullptr || dst == nullptr)) {
      return make_error(ErrorCode::kInvalidArgument, "dequantize_row: null source or destination");
    }
    if constexpr (Format::kType == gguf::TensorType::kF32 && std::endian::native == std::endian::little) {
      if (count > 0) std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(float));
      return Status::ok();
    }
    const int64_t blocks = count / Format::kBlockElements;
    for (int64_t b = 0; b < blocks; ++b) {
      Format::dequantize_block(src + b * Format::kBlockBytes, dst + b * Format::kBlockElements);
    }
    return Status::ok();
  });
}

bool is_supported(gguf::TensorType type) {
  return visit_format(type, "", [](auto) { return Status::ok(); }).is_ok();
}

}  // namespace llama_worker::quant
