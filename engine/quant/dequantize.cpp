#include "quant/dequantize.hpp"

#include <array>
#include <bit>
#include <cstring>

#include "quant/format_dispatch.hpp"

namespace llama_worker::quant {
namespace {

// Every fp16 value widened once (256 KiB): F16 rows are the bulk of F16 models.
const std::array<float, 65536>& f16_table() {
  static const std::array<float, 65536> table = [] {
    std::array<float, 65536> values{};
    for (uint32_t h = 0; h < 65536; ++h) values[h] = f16_to_f32(static_cast<uint16_t>(h));
    return values;
  }();
  return table;
}

}  // namespace

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
    if constexpr (Format::kType == gguf::TensorType::kF16) {
      const auto& table = f16_table();
      for (int64_t i = 0; i < count; ++i) dst[i] = table[load_u16(src + 2 * i)];
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
