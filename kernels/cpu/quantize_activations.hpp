// Activation quantization to int8, CPU reference: the form the decode product reads when
// LLAMA_WORKER_DECODE_INT8 is on (kernels/cuda/quant_gemv_int8.cu), as ggml's q8_1 blocks do for
// llama.cpp's matrix-vector kernels. Each run of 32 values gets the scale d = max|x| / 127 and
// q = round-half-even(x * (127 / max|x|)), an integer in [-127, 127] (fp32, each operation
// correctly rounded); an all-zero run gets d = 0 and q = 0. The GPU computes the same d and q bit
// for bit (IEEE division and product on both).
#pragma once

#include <cstdint>

namespace llama_worker::kernels::cpu {

constexpr int64_t kActivationBlock = 32;

// x: (n) fp32, n a multiple of 32; q: (n) int8; d: (n / 32) fp32.
void quantize_activations_int8(const float* x, int64_t n, int8_t* q, float* d);

// out[i] = q[i] * d[i / 32] in fp32 (exact: |q| <= 127 needs 7 bits of the 24).
void dequantize_activations_int8(const int8_t* q, const float* d, int64_t n, float* out);

}  // namespace llama_worker::kernels::cpu
