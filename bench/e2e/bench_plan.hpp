// What one `llama-worker bench` run measures: the settings (llama-bench's -p/-n/-d lists,
// repetitions, warm-up) and the list of test cases they expand to.
//
// Definitions follow llama-bench so the numbers compare:
//   pp<P> (prefill): P random tokens in one forward pass, logits of the last position only;
//                    tokens per second = P / time.
//   tg<N> (decode):  N random tokens, one forward pass each (batch 1); tokens per second = N / time.
//   "@ d<D>":        before each timed repetition the KV cache is emptied and filled with D random
//                    tokens, untimed; the timed part starts at position D.
// Cases come out in llama-bench's order: for each depth, every pp<P>, then every tg<N>.
// A count of 0 in -p or -n leaves that kind of test out (as llama-bench does).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace llama_worker::bench {

enum class TestKind { kPrompt, kGenerate };

struct TestCase {
  TestKind kind = TestKind::kPrompt;
  int64_t tokens = 0;  // P for pp, N for tg
  int64_t depth = 0;   // KV positions filled (untimed) before the timed part
};

struct BenchSettings {
  std::vector<int64_t> prompt_counts{512};    // -p
  std::vector<int64_t> generate_counts{128};  // -n
  std::vector<int64_t> depths{0};             // -d
  int repetitions = 5;                        // -r, timed runs per case
  bool warmup = true;                         // one untimed run per case first
  uint64_t seed = 1;                          // random token ids
  // --parallel: stream counts of llama-batched-bench's cases (parallel_bench.hpp); when not empty
  // the bench runs those cases (every PP of -p x TG of -n x N, in that nesting) instead of pp/tg.
  std::vector<int64_t> parallel;
};

// "512" or "0,2048" -> counts (each >= 0). `flag` names the option in the error ("-p").
Result<std::vector<int64_t>> parse_count_list(std::string_view text, std::string_view flag);

// Checks ranges (repetitions >= 1, non-empty lists, at least one test) and expands the cases.
Result<std::vector<TestCase>> make_test_cases(const BenchSettings& settings);

// "pp512", "tg128", "tg128 @ d2048": llama-bench's test names.
std::string test_name(const TestCase& test);

// KV positions a run of these cases needs: llama-bench's n_ctx = max over depths of
// (depth + largest P + largest N); with --parallel, the positions one stream may reach (largest
// P + largest N + 1: its last sampled token).
int64_t required_context(const BenchSettings& settings);

}  // namespace llama_worker::bench
