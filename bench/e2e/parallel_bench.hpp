// `llama-worker bench --parallel LIST`: llama-batched-bench's figures (`-npp PP -ntg TG -npl LIST`)
// for N streams served at once through one runtime::scheduler::Scheduler.
//
// One case = (PP, TG, N): N sequences with distinct random prompts of PP tokens (drawn from the
// bench's seed before the clock starts), greedy, end-of-generation ignored, each fed TG decode
// tokens. As in llama-batched-bench:
//   T_PP: from the first start() until every stream has its first token (all N prompts
//         prefilled); S_PP = N * PP / T_PP.
//   T_TG: from then until every stream has run TG decode steps; S_TG = N * TG / T_TG.
//   T = T_PP + T_TG, S = N * (PP + TG) / T; N_KV = N * (PP + TG) positions written.
//   Ours in addition: S_TG per stream = TG / T_TG, and the KV pool the scheduler planned.
// Each stream samples TG + 1 tokens: the first from its prompt's logits (inside T_PP), then one
// per decode step (llama-batched-bench likewise runs TG decode passes after the prompt).
//
// Scheduler settings (why): max_sequences = N; run_ahead_tokens = 1, so a stream that has its
// first token is paused until it is read, and the prefill phase (driven by step() until no work
// is left) contains no decode row — the two phases are timed apart as llama-batched-bench does;
// prefill_chunk = step_token_budget = kParallelStepTokens (2048, llama-batched-bench's default
// -b): a prompt of up to 2048 tokens is one chunk, and a prefill step carries up to 2048 prompt
// tokens of several streams; decode steps then carry N rows each (one driver thread pulling the N
// streams round-robin). The KV pool is sized to the case: N * ceil((PP + TG) / 16) blocks of 16
// positions, never oversubscribed.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "e2e/device_probe.hpp"
#include "runtime/batched_backend.hpp"

namespace llama_worker::bench {

inline constexpr int64_t kMaxParallelStreams = 256;
inline constexpr int64_t kParallelStepTokens = 2048;

struct ParallelCase {
  int64_t prompt_tokens = 0;    // PP, >= 1
  int64_t generate_tokens = 0;  // TG, >= 1
  int64_t streams = 0;          // N (llama-batched-bench's B / pl), 1..kMaxParallelStreams
};

struct ParallelResult {
  ParallelCase test;
  double prefill_seconds = 0;  // T_PP
  double decode_seconds = 0;   // T_TG
  int64_t steps = 0;           // scheduler steps of the timed run (prefill + decode)
  int64_t kv_pool_blocks = 0;
  int64_t kv_block_positions = 0;
  int64_t kv_pool_bytes = 0;           // the scheduler's plan: blocks * bytes per block
  int64_t kv_pool_measured_bytes = 0;  // the backend's measure of the pool's allocation (0: none)

  int64_t kv_positions() const { return test.streams * (test.prompt_tokens + test.generate_tokens); }  // N_KV
  double total_seconds() const { return prefill_seconds + decode_seconds; }                            // T
  double prefill_rate() const;            // S_PP, tokens per second
  double decode_rate() const;             // S_TG, tokens per second over all streams
  double decode_rate_per_stream() const;  // S_TG / N
  double total_rate() const;              // S
};

// "1,4,16,64" -> stream counts, each 1..kMaxParallelStreams; duplicates are kept (each runs again,
// as llama-batched-bench does). kInvalidArgument naming the item: "--parallel: '0' is not a stream
// count from 1 to 256".
Result<std::vector<int64_t>> parse_stream_list(std::string_view text);

// One case: an untimed warm-up (the same case with at most 16 decode steps) when `warmup`, then the
// timed run. kOutOfRange when PP + TG + 1 exceed the backend's context.
Result<ParallelResult> run_parallel_case(runtime::BatchedInferenceBackend& backend, DeviceProbe& probe,
                                         const ParallelCase& test, bool warmup, std::mt19937_64& rng);

}  // namespace llama_worker::bench
