// The decode product with int8 activations (quant_gemv's LLAMA_WORKER_DECODE_INT8 form): each
// block first quantizes the input vector into shared memory, 32 values per fp32 scale exactly as
// kernels/cpu/quantize_activations.hpp (the RMSNorm of x applied first when asked), then its warps
// take Q4_K / Q6_K rows with integer dot products (dp4a: four 8-bit products per instruction)
// and apply the weight and activation scales once per 16 or 8 weights. About four times fewer
// instructions per weight than the fp32 form (one dequantisation and one fma per weight), as
// llama.cpp's mmvq kernels on q8_1 activations. Results differ from the fp32 form by the
// activation rounding (relative ~1/250 per value); the conformance suite checks them against the
// CPU product of the dequantized activations.
//
// Called by quant_gemv() / quant_gemv_multi() when their params ask for int8 activations and
// quant_gemv_int8_supports() holds; otherwise those take the fp32 form.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/status.hpp"
#include "cuda/quant_gemv.cuh"

namespace llama_worker::kernels::cuda {

// Q4_K or Q6_K, the input width a multiple of 256 and small enough for the block's shared copy,
// no output norm (norm_out), and for the multi form every segment so.
bool quant_gemv_int8_supports(gguf::TensorType type, int64_t in_features);
bool quant_gemv_int8_supports(const QuantGemvParams& p);
bool quant_gemv_int8_supports(const QuantGemvMultiParams& p);

// Preconditions checked by quant_gemv / quant_gemv_multi (pointers, alignment, supports()).
Status quant_gemv_int8(const QuantGemvParams& p, cudaStream_t stream);
Status quant_gemv_multi_int8(const QuantGemvMultiParams& p, cudaStream_t stream);

}  // namespace llama_worker::kernels::cuda
