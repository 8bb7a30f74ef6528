// exp(x) from IEEE +, -, *, / and exact scaling only, so softmax probabilities, and therefore
// sampled tokens, are the same on every platform: std::exp comes from the platform's libm and
// may differ in the last bit between implementations. Accuracy: a few ulp of double, far below
// anything that changes a sampled token except at a measure-zero boundary.
#pragma once

namespace llama_worker::sampling {

// Finite x; returns 0 below about -745 and +Inf above about 709.8.
double deterministic_exp(double x);

}  // namespace llama_worker::sampling
