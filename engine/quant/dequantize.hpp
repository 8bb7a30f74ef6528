// Scalar reference dequantization of GGUF tensor rows, bit-exact with ggml's dequantize_row_*
// (proven against the gguf Python package by golden/quant). Callers that know the tensor name
// add it to the error: "tensor 'blk.0.attn_q.weight': tensor type IQ2_XXS is not supported ...".
#pragma once

#include <cstdint>

#include "core/status.hpp"
#include "gguf/tensor_type.hpp"

namespace llama_worker::quant {

// src: the row's bytes (count / block_size blocks, no alignment needed); dst: count floats.
// Fails when the type is unsupported (kUnsupported) or count is negative or not a multiple of
// the type's block size (kInvalidArgument); then dst is untouched.
Status dequantize_row(gguf::TensorType type, const uint8_t* src, float* dst, int64_t count);

// Whether dequantize_row and quantize_row accept the type.
bool is_supported(gguf::TensorType type);

}  // namespace llama_worker::quant
