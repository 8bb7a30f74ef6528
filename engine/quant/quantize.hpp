// Quantization of float rows into GGUF blocks. The 32-element formats (Q4_0 ... Q8_0) and
// F16/BF16 are bit-exact with ggml's reference quantizers (pinned by golden/quant); the
// K-quants use the simple round-to-nearest quantizers of k_quantizer.hpp, which make valid
// blocks close to the input (error bounds pinned by the round-trip tests). Deterministic:
// the same floats give the same bytes on every machine.
#pragma once

#include <cstdint>

#include "core/status.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::quant {

// src: count floats; dst: row_bytes(type, count) bytes. Fails when the type is unsupported,
// count is not a multiple of the block size, or an input is not finite or too large for the
// format (beyond 65504 for F16 and the quantized formats, whose scales are fp16); the error
// names the element index and value.
Status quantize_row(gguf::TensorType type, const float* src, uint8_t* dst, int64_t count);

}  // namespace llama_worker::quant
