// `generate --parallel N --prompts-file FILE`: N prompts served at once by one
// runtime::scheduler::Scheduler on the backend's batched interface.
//
// Prompts: the first N lines of FILE ('\n' separated, a trailing '\r' dropped, no line may be
// empty); fewer than N lines is an error, lines after the N-th are ignored. Each prompt is
// encoded as `generate` encodes one (BOS, --chat template) and gets the same sampling options,
// seed included, and the same end-of-generation handling; a prompt plus -n over the context is
// the error `generate` gives, naming the prompt.
//
// Output: after every sequence has finished, in prompt order, for each K (1-based) the line
// `### prompt K`, then exactly what `generate -p <line K>` prints on stdout (the text and a
// newline). Batch invariance makes each completion equal to that prompt generated alone with the
// same options. stderr: one statistics line per prompt, then the totals.
//
// Scheduler settings: max_sequences = N; prefill_chunk = 512 (Session's chunk) and a step budget
// of N + 512 (every decoding sequence plus one chunk per step); a KV pool of exactly the blocks
// the N prompts and their -n tokens can reach (never exhausted); one thread pulls the sequences
// round-robin.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "runtime/backend.hpp"
#include "runtime/session.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llama_worker::cli {

inline constexpr int64_t kMaxParallelPrompts = 256;

// The first `count` lines of `path`; kInvalidArgument when it has fewer or one of them is empty.
Result<std::vector<std::string>> read_prompts_file(const std::string& path, int64_t count);

struct ParallelGeneration {
  std::vector<std::string> prompts;
  runtime::GenerationOptions generation;  // -n, sampling, chat and its template
  std::string backend_name;               // for the statistics line
  double load_ms = 0;
};

// Runs the prompts and prints as described above; returns the exit status (report_error on failure).
int generate_parallel(runtime::InferenceBackend& backend, const tokenizer::Tokenizer& tokenizer,
                      const ParallelGeneration& run);

}  // namespace llama_worker::cli
