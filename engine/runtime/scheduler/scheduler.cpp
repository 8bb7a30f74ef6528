#include "runtime/scheduler/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>

namespace llama_worker::runtime::scheduler {
namespace {

Error unknown_sequence(SequenceId id) {
  return make_error(ErrorCode::kNotFound,
                    "no sequence " + std::to_string(id) + " (never started, or released)");
}

}  // namespace

struct Scheduler::Sequence {
  SequenceId id = 0;
  SequenceOptions options;
  std::optional<sampling::Sampler> sampler;  // used by the stepping thread only
  std::vector<int32_t> prompt;
  int64_t prompt_fed = 0;        // prompt tokens in the KV cache
  std::vector<int32_t> history;  // prompt + generated (repetition penalty, next feed)
  int64_t generated = 0;
  kv_pool::BlockTable blocks;
  std::deque<SequenceToken> ready;      // the run-ahead buffer
  StopReason stop = StopReason::kNone;  // set once: finished, cancelled or failed
  std::optional<Error> failure;         // cancelled or failed
  bool in_flight = false;               // in the running step: its blocks are being written
  bool released = false;                // forget it when its step ends

  bool prefilling() const { return prompt_fed < static_cast<int64_t>(prompt.size()); }
  bool running() const { return stop == StopReason::kNone; }
};

// One entry of a step, with copies of what the forward pass reads so that admissions, cancels
// and releases may change the scheduler's state while it runs.
struct Scheduler::PlannedEntry {
  Sequence* sequence = nullptr;
  std::vector<int32_t> tokens;
  std::vector<int32_t> block_table;
  int64_t start_position = 0;
  bool logits = false;                  // samples a token from this entry's last row
  bool greedy = false;                  // with logits: the backend's greedy token serves the sampler
  std::optional<int32_t> sampled = {};  // filled outside the lock
  std::optional<Error> sample_error = {};
};

Result<std::unique_ptr<Scheduler>> Scheduler::create(BatchedInferenceBackend& backend,
                                                     SchedulerOptions options) {
  if (options.max_sequences <= 0 || options.prefill_chunk <= 0 || options.run_ahead_tokens <= 0 ||
      options.step_token_budget < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "scheduler: max_sequences, prefill_chunk and run_ahead_tokens must be positive");
  }
  if (options.step_token_budget == 0)
    options.step_token_budget = options.max_sequences + options.prefill_chunk;
  if (options.step_token_budget <= options.max_sequences) {
    return make_error(ErrorCode::kInvalidArgument,
                      "scheduler: the step token budget (" + std::to_string(options.step_token_budget) +
                          ") must exceed max_sequences (" + std::to_string(options.max_sequences) +
                          ") so that prefill always progresses next to a full set of decode rows");
  }
  LW_ASSIGN_OR_RETURN(kv_pool::KvPoolPlan plan,
                      kv_pool::plan_kv_pool({.geometry = backend.kv_geometry(),
                                             .max_sequences = options.max_sequences,
                                             .context = backend.context_capacity(),
                                             .block_positions = options.kv_block_positions,
                                             .blocks_total = options.kv_blocks,
                                             .max_bytes = options.kv_max_bytes}));
  LW_TRY(backend.allocate_kv_blocks(plan));
  return std::unique_ptr<Scheduler>(new Scheduler(backend, std::move(options), plan));
}

Scheduler::Scheduler(BatchedInferenceBackend& backend, SchedulerOptions options,
                     const kv_pool::KvPoolPlan& plan)
    : backend_(backend), options_(std::move(options)), plan_(plan), pool_(plan) {}

Scheduler::~Scheduler() = default;

Result<SequenceId> Scheduler::start(std::span<const int32_t> prompt, const SequenceOptions& options) {
  LW_TRY(sampling::validate(options.sampling));
  if (options.max_tokens < 0)
    return make_error(ErrorCode::kInvalidArgument, "the token limit must not be negative");
  if (prompt.empty()) return make_error(ErrorCode::kInvalidArgument, "the prompt has no tokens");
  const int64_t vocabulary = backend_.config().vocab_size;
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] < 0 || prompt[i] >= vocabulary) {
      return make_error(ErrorCode::kInvalidArgument,
                        "prompt token " + std::to_string(i) + " has id " + std::to_string(prompt[i]) +
                            ", outside the vocabulary [0, " + std::to_string(vocabulary) + ")");
    }
  }
  const int64_t prompt_size = static_cast<int64_t>(prompt.size());
  const int64_t capacity = backend_.context_capacity();
  if (options.max_tokens > capacity - prompt_size) {  // not prompt + max: an absurd max would overflow
    return make_error(ErrorCode::kOutOfRange, "the prompt (" + std::to_string(prompt_size) +
                                                  " tokens) plus " + std::to_string(options.max_tokens) +
                                                  " tokens to generate exceed the context of " +
                                                  std::to_string(capacity) + " positions");
  }
  LW_ASSIGN_OR_RETURN(sampling::Sampler sampler, sampling::Sampler::create(options.sampling));

  auto sequence = std::make_unique<Sequence>();
  sequence->options = options;
  sequence->sampler.emplace(std::move(sampler));
  sequence->prompt.assign(prompt.begin(), prompt.end());
  sequence->history = sequence->prompt;
  if (options.max_tokens == 0) sequence->stop = StopReason::kTokenLimit;

  std::lock_guard<std::mutex> lock(mutex_);
  if (static_cast<int64_t>(sequences_.size()) >= options_.max_sequences) {
    return make_error(ErrorCode::kOutOfRange, std::to_string(sequences_.size()) +
                                                  " sequences are running already (max_sequences " +
                                                  std::to_string(options_.max_sequences) + ")");
  }
  if (sequence->running()) LW_TRY(pool_.take_for_positions(sequence->blocks, prompt_size));
  sequence->id = next_id_++;
  const SequenceId id = sequence->id;
  sequences_.emplace(id, std::move(sequence));
  return id;
}

Scheduler::Sequence* Scheduler::find_locked(SequenceId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end() || it->second->released) return nullptr;
  return it->second.get();
}

void Scheduler::end_locked(Sequence& sequence, std::optional<Error> failure) {
  if (failure) {
    sequence.stop = failure->code == ErrorCode::kCancelled ? StopReason::kCancelled : StopReason::kFailed;
    sequence.failure = std::move(failure);
  }
  // Blocks of a sequence in the running step are still being written: its commit frees them.
  // (release fails only for a block given back twice, which move-only tables rule out.)
  if (!sequence.in_flight) (void)pool_.release(sequence.blocks);
}

int64_t Scheduler::paused_count_locked() const {
  int64_t paused = 0;
  for (const auto& [id, sequence] : sequences_) {
    paused += sequence->running() && !sequence->prefilling() &&
              static_cast<int64_t>(sequence->ready.size()) >= options_.run_ahead_tokens;
  }
  return paused;
}

Result<SequenceToken> Scheduler::next_token(SequenceId id) {
  std::unique_lock<std::mutex> lock(mutex_);
  bool gathered = false;  // waited once for paused consumers since the last step this call ran
  for (;;) {
    Sequence* sequence = find_locked(id);
    if (sequence == nullptr) return unknown_sequence(id);
    if (!sequence->ready.empty()) {
      const SequenceToken token = sequence->ready.front();
      sequence->ready.pop_front();
      changed_.notify_all();  // a paused sequence has room again (matters to a step() driver)
      return token;
    }
    if (sequence->failure) return *sequence->failure;
    if (!sequence->running()) {
      return make_error(ErrorCode::kOutOfRange, "sequence " + std::to_string(id) + " has finished (" +
                                                    stop_reason_name(sequence->stop) + ")");
    }
    if (stepping_) {
      changed_.wait(lock);
      continue;
    }
    if (!gathered && options_.gather_wait.count() > 0 && paused_count_locked() > 0) {
      // Give the consumers of paused sequences a moment to take a token so they join this step.
      gathered = true;
      changed_.wait_for(lock, options_.gather_wait, [&] { return stepping_ || paused_count_locked() == 0; });
      continue;
    }
    gathered = false;
    LW_ASSIGN_OR_RETURN(const bool ran, run_step(lock));
    if (!ran) {
      return make_error(ErrorCode::kInternal, "scheduler: sequence " + std::to_string(id) +
                                                  " is running but no step could be planned");
    }
  }
}

Status Scheduler::cancel(SequenceId id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Sequence* sequence = find_locked(id);
  if (sequence == nullptr) return unknown_sequence(id);
  sequence->ready.clear();
  if (!sequence->failure) {
    end_locked(*sequence,
               make_error(ErrorCode::kCancelled, "sequence " + std::to_string(id) + " was cancelled"));
  }
  changed_.notify_all();
  return Status::ok();
}

Status Scheduler::release(SequenceId id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Sequence* sequence = find_locked(id);
  if (sequence == nullptr) return unknown_sequence(id);
  if (sequence->in_flight) {
    sequence->released = true;  // the running step's commit forgets it
    sequence->ready.clear();
    if (!sequence->failure) {
      end_locked(*sequence,
                 make_error(ErrorCode::kCancelled, "sequence " + std::to_string(id) + " was released"));
    }
  } else {
    (void)pool_.release(sequence->blocks);
    sequences_.erase(id);
  }
  changed_.notify_all();
  return Status::ok();
}

Result<bool> Scheduler::step() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (stepping_) changed_.wait(lock);
  return run_step(lock);
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  SchedulerStats stats = stats_;
  stats.sequences = 0;
  for (const auto& [id, sequence] : sequences_) stats.sequences += sequence->released ? 0 : 1;
  stats.blocks_total = pool_.blocks_total();
  stats.blocks_free = pool_.blocks_free();
  return stats;
}

std::vector<Scheduler::PlannedEntry> Scheduler::plan_step_locked() {
  std::vector<PlannedEntry> planned;
  // Decode rows first, so that prefill never slows the streams already decoding.
  for (auto& [id, owned] : sequences_) {
    Sequence& sequence = *owned;
    if (!sequence.running() || sequence.prefilling()) continue;
    if (static_cast<int64_t>(sequence.ready.size()) >= options_.run_ahead_tokens) continue;  // paused
    const int64_t position = static_cast<int64_t>(sequence.history.size()) - 1;  // the last token's
    Status grown = pool_.take_for_positions(sequence.blocks, position + 1);
    if (!grown) {
      end_locked(sequence, make_error(grown.code(), grown.message() + " (sequence " + std::to_string(id) +
                                                        " at position " + std::to_string(position) + ")"));
      continue;
    }
    planned.push_back({.sequence = &sequence,
                       .tokens = {sequence.history.back()},
                       .block_table = {sequence.blocks.blocks().begin(), sequence.blocks.blocks().end()},
                       .start_position = position,
                       .logits = true});
  }
  // Prefill chunks in arrival order with what the budget leaves (at least one token: the budget
  // exceeds max_sequences). The prompt's blocks were taken at admission.
  int64_t budget = options_.step_token_budget - static_cast<int64_t>(planned.size());
  for (auto& [id, owned] : sequences_) {
    if (budget <= 0) break;
    Sequence& sequence = *owned;
    if (!sequence.running() || !sequence.prefilling()) continue;
    const int64_t remaining = static_cast<int64_t>(sequence.prompt.size()) - sequence.prompt_fed;
    const int64_t count = std::min({options_.prefill_chunk, remaining, budget});
    const auto first = sequence.prompt.begin() + sequence.prompt_fed;
    planned.push_back({.sequence = &sequence,
                       .tokens = {first, first + count},
                       .block_table = {sequence.blocks.blocks().begin(), sequence.blocks.blocks().end()},
                       .start_position = sequence.prompt_fed,
                       .logits = count == remaining});
    budget -= count;
  }
  return planned;
}

Result<bool> Scheduler::run_step(std::unique_lock<std::mutex>& lock) {
  std::vector<PlannedEntry> planned = plan_step_locked();
  if (planned.empty()) {
    changed_.notify_all();  // sequences may have failed while planning
    return false;
  }
  stepping_ = true;
  for (PlannedEntry& entry : planned) entry.sequence->in_flight = true;
  lock.unlock();

  // Outside the lock: only this thread touches the planned sequences' samplers and histories.
  std::vector<BatchEntry> entries;
  entries.reserve(planned.size());
  for (PlannedEntry& entry : planned) {
    // Plain greedy sequences take the backend's argmax unless someone watches the logits.
    entry.greedy = entry.logits && !options_.logits_observer && entry.sequence->sampler->plain_greedy();
    entries.push_back({.tokens = entry.tokens,
                       .start_position = entry.start_position,
                       .block_table = entry.block_table,
                       .logits = entry.logits,
                       .greedy = entry.greedy});
  }
  // The logits buffer lives across steps (only the stepping thread touches it): a step of 64 rows
  // at a 152k vocabulary fills 39 MB, whose fresh pages cost more than the copy.
  std::vector<float>& logits = step_logits_;
  std::vector<int32_t> greedy;
  Status forward = backend_.forward_batch(entries, logits, greedy);
  if (forward) {
    size_t rows = 0, greedy_rows = 0;
    for (const PlannedEntry& entry : planned) (entry.greedy ? greedy_rows : rows) += entry.logits ? 1 : 0;
    if (greedy.size() != greedy_rows ||
        logits.size() != rows * static_cast<size_t>(backend_.config().vocab_size))
      forward = make_error(ErrorCode::kInternal,
                           "forward_batch returned the wrong number of logits rows or tokens");
  }
  if (forward) {
    const size_t vocab = static_cast<size_t>(backend_.config().vocab_size);
    size_t row = 0, greedy_index = 0;
    for (PlannedEntry& entry : planned) {
      if (!entry.logits) continue;
      const int64_t last = entry.start_position + static_cast<int64_t>(entry.tokens.size()) - 1;
      if (entry.greedy) {
        const int32_t token = greedy[greedy_index++];
        if (token == kGreedyNonFinite) {
          entry.sample_error = make_error(ErrorCode::kInternal,
                                          std::string(kNonFiniteLogitsPrefix) +
                                              " NaN or infinity among the logits at position " +
                                              std::to_string(last) + ": its weights are probably corrupt");
        } else {
          entry.sampled = token;
        }
        continue;
      }
      const std::span<const float> values(logits.data() + row * vocab, vocab);
      ++row;
      if (options_.logits_observer) options_.logits_observer(entry.sequence->id, last, values);
      if (const auto bad =
              std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
          bad != values.end()) {
        entry.sample_error = make_error(
            ErrorCode::kInternal, std::string(kNonFiniteLogitsPrefix) + " " + std::to_string(*bad) +
                                      " for token " + std::to_string(bad - values.begin()) + " at position " +
                                      std::to_string(last) + ": its weights are probably corrupt");
        continue;
      }
      Result<int32_t> token = entry.sequence->sampler->sample(values, entry.sequence->history);
      if (token) {
        entry.sampled = *token;
      } else {
        entry.sample_error = token.error();
      }
    }
  }

  lock.lock();
  commit_locked(planned, forward);
  stepping_ = false;
  changed_.notify_all();
  return true;
}

void Scheduler::push_token_locked(Sequence& sequence, int32_t token) {
  sequence.history.push_back(token);
  ++sequence.generated;
  const std::vector<int32_t>& stops = sequence.options.stop_tokens;
  if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
    sequence.stop = StopReason::kEndOfGeneration;
  } else if (sequence.generated >= sequence.options.max_tokens) {
    sequence.stop = StopReason::kTokenLimit;
  }
  sequence.ready.push_back({.token = token, .finished = !sequence.running(), .stop_reason = sequence.stop});
  if (!sequence.running()) end_locked(sequence, std::nullopt);  // nothing more to feed: blocks go back
}

void Scheduler::commit_locked(std::vector<PlannedEntry>& planned, const Status& forward) {
  ++stats_.steps;
  stats_.largest_step_entries = std::max(stats_.largest_step_entries, static_cast<int64_t>(planned.size()));
  for (PlannedEntry& entry : planned) {
    Sequence& sequence = *entry.sequence;
    sequence.in_flight = false;
    stats_.rows += static_cast<int64_t>(entry.tokens.size());
    if (sequence.released) {
      (void)pool_.release(sequence.blocks);
      sequences_.erase(sequence.id);
      continue;
    }
    if (!sequence.running()) {  // cancelled (or failed) during the step: its result is dropped
      end_locked(sequence, std::nullopt);
      continue;
    }
    if (!forward) {
      end_locked(sequence, forward.error());
      continue;
    }
    if (entry.start_position < static_cast<int64_t>(sequence.prompt.size())) {
      sequence.prompt_fed += static_cast<int64_t>(entry.tokens.size());
    }
    if (!entry.logits) continue;
    if (entry.sample_error) {
      end_locked(sequence, entry.sample_error);
      continue;
    }
    push_token_locked(sequence, *entry.sampled);
  }
}

bool is_non_finite_logits(const Error& error) {
  return error.code == ErrorCode::kInternal &&
         std::string_view(error.message).starts_with(kNonFiniteLogitsPrefix);
}

}  // namespace llama_worker::runtime::scheduler
