// Softmax, CPU reference, in place over each row: x[i] = exp(x[i] - max) / sum_j exp(x[j] - max).
//
// Subtracting the row maximum keeps exp() in range; -infinity entries (masked positions) become
// exactly 0. A row that is entirely -infinity has no defined softmax: it becomes all zeros, which
// callers (attention) never produce because a query always sees at least itself.
#pragma once

#include <cstdint>

namespace llama_worker::kernels::cpu {

// x: (rows, width) fp32, rows contiguous; overwritten with probabilities (each row sums to 1)
void softmax_f32(float* x, int64_t rows, int64_t width);

}  // namespace llama_worker::kernels::cpu
