// Token sampling from a row of logits. Deterministic on every platform: the generator is ours
// (random.hpp), exp is ours (deterministic_exp.hpp), candidates are ordered by a strict total
// order (logit descending, then id ascending), every sum runs in that order in double
// precision, and the library is compiled without floating-point contraction.
//
// Pipeline (Hugging Face transformers' order), on double-precision copies of the logits:
//   1. repetition penalty on the distinct tokens among the last repeat_last_n history tokens
//   2. temperature 0: argmax (lowest id on ties), no random number drawn; stop
//   3. logits / temperature; sort candidates
//   4. top-k: keep the first k
//   5. softmax over the kept candidates; top-p: keep candidate i while the mass before it < top_p
//   6. min-p: keep candidates with p >= min_p * p_max
//   7. draw u = next_unit_double() * (kept mass); the first candidate whose running mass
//      exceeds u wins (at most one random number per sampled token)
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.hpp"
#include "sampling/random.hpp"
#include "sampling/sampling_params.hpp"

namespace llama_worker::sampling {

struct Candidate {
  int32_t id;
  double probability;  // after every truncation, renormalised; sums to 1 over the kept set
};

// The distribution the sampler draws from (steps 1-6), most likely first. Fails on invalid
// params, an empty row, a non-finite logit (naming its index) or a history id outside the row.
Result<std::vector<Candidate>> candidate_distribution(std::span<const float> logits,
                                                      const SamplingParams& params,
                                                      std::span<const int32_t> history);

class Sampler {
 public:
  // Fails when the parameters are invalid.
  static Result<Sampler> create(const SamplingParams& params);

  // Samples one token id from logits (one row, vocabulary order). history: the tokens so far
  // (prompt and generated), for the repetition penalty.
  Result<int32_t> sample(std::span<const float> logits, std::span<const int32_t> history = {});

  const SamplingParams& params() const { return params_; }
  // Greedy without a repetition penalty: the token is the row's argmax alone (lowest id on ties),
  // so a caller may take it from an argmax computed elsewhere (the batched step's device argmax).
  bool plain_greedy() const {
    return params_.temperature == 0.0f && (params_.repetition_penalty == 1.0f || params_.repeat_last_n == 0);
  }

 private:
  explicit Sampler(const SamplingParams& params) : params_(params), generator_(params.seed) {}
  SamplingParams params_;
  Generator generator_;
};

}  // namespace llama_worker::sampling
