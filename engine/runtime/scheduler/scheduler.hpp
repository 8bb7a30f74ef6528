// The per-model step loop of many sequences on one backend (see README.md).
//
// Between steps: admission (start() reserves the prompt's KV blocks or fails at once), cancel and
// release. Each step: every decoding sequence whose run-ahead buffer has room feeds its last token
// (one decode row each, in arrival order), then what is left of the step's token budget goes to
// prefill chunks (at most prefill_chunk tokens of one sequence, arrival order); the batch runs as
// one BatchedInferenceBackend::forward_batch; each sequence samples its own next token with its
// own sampling::Sampler (own seed and parameters) and buffers it.
//
// Who steps: the callers. next_token(S) returns a buffered token of S at once; otherwise, if no
// step is running, the calling thread runs one (for every sequence, not only S), else it waits on
// the condition variable for the running step to finish. So one thread pulling 64 sequences
// round-robin gets one batch of 64 rows per step (the first call steps, the next 63 find their
// token buffered), and 64 threads get the same (one steps, 63 wait). No thread of our own: nothing
// runs when nobody asks (a paused sequence costs nothing) and destruction needs no join. step()
// runs one step without reading a token.
//
// Invariants: a sequence's tokens and logits never depend on the other sequences (the backend's
// batch invariance + a sampler per sequence); its blocks are taken only at admission (prompt) and
// when a decode row needs a new block, and all go back when it finishes, fails, is cancelled or
// released; a sequence that cannot grow fails alone with the "KV pool exhausted:" error.
// Thread-safe: every public function may be called from any thread; none may still be running
// when the scheduler is destroyed (the owner joins its callers first, as for a model handle). A
// backend error fails every sequence of that step with it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "core/status.hpp"
#include "runtime/batched_backend.hpp"
#include "runtime/generation.hpp"
#include "runtime/kv_pool/block_pool.hpp"
#include "sampling/sampler.hpp"

namespace llama_worker::runtime::scheduler {

using SequenceId = uint64_t;

struct SchedulerOptions {
  int64_t max_sequences = 64;     // sequences started and not released (max_inferences)
  int64_t prefill_chunk = 64;     // prompt tokens of one sequence per step, at most
  int64_t step_token_budget = 0;  // rows per step; 0 = max_sequences + prefill_chunk; > max_sequences
  int64_t run_ahead_tokens = 4;   // tokens buffered per sequence before it pauses; >= 1
  // A caller about to step while some sequences are paused (their consumers have not taken their
  // tokens yet) first waits up to this long for them to take one, so they join the step. 0 = step
  // at once: lowest latency for the caller, but with many consumer threads and a step much faster
  // than a thread wake-up, a fast consumer steps alone (see README.md).
  std::chrono::microseconds gather_wait{0};
  int64_t kv_block_positions = kv_pool::kDefaultBlockPositions;
  int64_t kv_blocks = 0;     // 0: every sequence can reach the full context; else this many blocks
  int64_t kv_max_bytes = 0;  // 0: no limit; else a larger pool is refused by create()
  // Called by the stepping thread for every logits row it samples from (tests check bits).
  std::function<void(SequenceId, int64_t position, std::span<const float> logits)> logits_observer = {};
};

struct SequenceOptions {
  sampling::SamplingParams sampling;
  int64_t max_tokens = 0;            // tokens to generate at most; 0 = the sequence is finished at once
  std::vector<int32_t> stop_tokens;  // end-of-generation ids: returned, then the sequence finishes
};

struct SequenceToken {
  int32_t token = -1;
  bool finished = false;                       // the last token of the sequence
  StopReason stop_reason = StopReason::kNone;  // kEndOfGeneration or kTokenLimit when finished
};

struct SchedulerStats {
  int64_t steps = 0;
  int64_t rows = 0;                  // tokens run, summed over steps
  int64_t largest_step_entries = 0;  // most sequences in one step
  int64_t sequences = 0;             // started and not released
  int64_t blocks_total = 0;
  int64_t blocks_free = 0;
};

// A sequence whose logits row holds NaN or an infinity fails alone (kInternal) with a message
// starting with this prefix (corrupt weights); is_non_finite_logits() recognises it.
inline constexpr const char* kNonFiniteLogitsPrefix = "the model produced a non-finite logit:";
bool is_non_finite_logits(const Error& error);

class Scheduler {
 public:
  // Plans the KV pool from the options and the backend's geometry and context, and allocates it.
  // `backend` must outlive the scheduler and serve no one else's forward_batch meanwhile.
  static Result<std::unique_ptr<Scheduler>> create(BatchedInferenceBackend& backend,
                                                   SchedulerOptions options);

  // Admits a sequence (it runs from the next step on). kInvalidArgument for bad options, an empty
  // prompt or an id outside the vocabulary; kOutOfRange when prompt + max_tokens exceed the
  // context or max_sequences are running; "KV pool exhausted:" (kOutOfMemory) when the prompt's
  // blocks are not free.
  Result<SequenceId> start(std::span<const int32_t> prompt, const SequenceOptions& options);
  // The sequence's next token, stepping or waiting as needed. After its last token: kOutOfRange;
  // cancelled: kCancelled; failed (pool exhausted, backend error): that error, every call.
  Result<SequenceToken> next_token(SequenceId id);
  // Stops the sequence: buffered tokens are dropped, its blocks go back (after the running step
  // if it is in one), next_token answers kCancelled. kNotFound for an unknown id.
  Status cancel(SequenceId id);
  // Cancels and forgets the sequence (its id becomes unknown); frees its max_sequences slot.
  Status release(SequenceId id);
  // Runs one step if there is work (waiting for a running one first): true when a step ran.
  Result<bool> step();

  ~Scheduler();

  SchedulerStats stats() const;
  const kv_pool::KvPoolPlan& kv_plan() const { return plan_; }

 private:
  struct Sequence;
  struct PlannedEntry;

  Scheduler(BatchedInferenceBackend& backend, SchedulerOptions options, const kv_pool::KvPoolPlan& plan);
  // Runs one step with `lock` held on entry and exit (released around the forward pass).
  Result<bool> run_step(std::unique_lock<std::mutex>& lock);
  std::vector<PlannedEntry> plan_step_locked();
  void commit_locked(std::vector<PlannedEntry>& planned, const Status& forward);
  void push_token_locked(Sequence& sequence, int32_t token);
  void end_locked(Sequence& sequence, std::optional<Error> failure);
  Sequence* find_locked(SequenceId id);
  int64_t paused_count_locked() const;  // decoding sequences whose run-ahead buffer is full

  BatchedInferenceBackend& backend_;
  const SchedulerOptions options_;
  const kv_pool::KvPoolPlan plan_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // a step finished, or a token was taken
  kv_pool::BlockPool pool_;
  std::map<SequenceId, std::unique_ptr<Sequence>> sequences_;  // ordered by id = arrival order
  SequenceId next_id_ = 1;
  bool stepping_ = false;
  std::vector<float> step_logits_;  // the running step's logits; only the stepping thread uses it
  SchedulerStats stats_;
};

}  // namespace llama_worker::runtime::scheduler
