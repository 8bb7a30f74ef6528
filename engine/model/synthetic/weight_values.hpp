// Deterministic pseudo-random weights of sane magnitude. Every tensor has its own stream
// (xoshiro256** seeded from the model seed and a hash of the tensor name), so a tensor's values
// do not depend on which other tensors exist, on their order, or on the thread that makes them.
// Values are uniform, made with integer and correctly rounded double operations only: the same
// seed gives the same floats, and so the same file bytes, on every machine.
//
// Magnitudes (U(a) = uniform in [-a, a]; std = a / sqrt(3)):
//   embedding (token_embd, output): std 2 / sqrt(E), so logits h . w have std ~2 for unit-RMS h
//   matrix:                         std 1 / sqrt(row length), so projections keep unit scale
//   norm:                           1 + U(0.2)
//   bias:                           U(0.1)
//   rope factor:                    1.5 + U(0.5)
#pragma once

#include <cstdint>
#include <string_view>

#include "model/synthetic/model_plan.hpp"
#include "sampling/random.hpp"

namespace llama_worker::synthetic {

// The stream of one tensor.
sampling::Generator tensor_generator(uint64_t model_seed, std::string_view tensor_name);

// Fills the next `count` values of a tensor with row length `row_length` from its stream.
void fill_values(sampling::Generator& generator, TensorRole role, int64_t row_length, float* out,
                 int64_t count);

}  // namespace llama_worker::synthetic
