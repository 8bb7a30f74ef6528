// The backend interface of many sequences on one model: each step runs a batch of entries, one
// per sequence, each entry a run of that sequence's tokens at consecutive positions, with the
// sequence's block table into the paged KV pool (kv_pool/). A decode row is an entry of one
// token; a prefill chunk is an entry of several.
//
// Batch invariance (the contract every implementation keeps, and the CPU backend proves): the
// logits of an entry, and the K/V it writes, are bit-identical whatever the other entries of the
// batch are — fixed reduction orders per row, no algorithm chosen from the batch size. Entries
// never read one another's blocks.
//
// InferenceBackend (backend.hpp), one sequence with its own contiguous cache, stays as it is: the
// Session, Generation, C API and CLI use it. A backend can offer both; the paged pool and the
// contiguous cache are separate memory.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.hpp"
#include "model/config.hpp"
#include "runtime/kv_pool/kv_pool_plan.hpp"

namespace llama_worker::runtime {

struct BatchEntry {
  std::span<const int32_t> tokens =
      {};                      // (n >= 1) token ids, at positions [start_position, start_position + n)
  int64_t start_position = 0;  // positions of this sequence already in its blocks
  std::span<const int32_t> block_table =
      {};              // block i holds positions [i*B, (i+1)*B); covers start_position + n
  bool logits = true;  // return the logits of this entry's last token
  // With logits: return only the greedy token of that row (the lowest id among its largest
  // logits, or kGreedyNonFinite when any logit is NaN or infinite) instead of the row, so a greedy
  // sequence's step moves 4 bytes instead of a vocabulary of floats. The token is a function of
  // the row alone, so batch invariance carries over.
  bool greedy = false;
};

inline constexpr int32_t kGreedyNonFinite = -1;

class BatchedInferenceBackend {
 public:
  virtual ~BatchedInferenceBackend() = default;

  virtual const model::ModelConfig& config() const = 0;
  // Positions one sequence may reach (<= the model's context length).
  virtual int64_t context_capacity() const = 0;
  // What one position of the paged pool holds (layers, K/V width, element size): plan input.
  virtual kv_pool::KvGeometry kv_geometry() const = 0;
  // Allocates the paged pool for `plan` (replacing any earlier one; its contents are lost).
  virtual Status allocate_kv_blocks(const kv_pool::KvPoolPlan& plan) = 0;
  // What the last allocate_kv_blocks took for the pool itself as the device reports it (its free
  // memory before and after the pool's allocation), to set beside the plan; 0 where the backend
  // cannot measure it (host memory).
  virtual int64_t measured_kv_pool_bytes() const { return 0; }
  // Runs one step: writes each entry's K/V into its blocks, resizes `logits` to (entries with
  // logits = true and greedy = false, vocab), row-major, in entry order, and `greedy` to one token
  // per entry with logits = true and greedy = true, in entry order.
  // Every entry is checked before anything runs (token ids, block ids, table coverage, the
  // context, no block in two tables): a bad batch is kInvalidArgument / kOutOfRange and writes
  // nothing.
  virtual Status forward_batch(std::span<const BatchEntry> entries, std::vector<float>& logits,
                               std::vector<int32_t>& greedy) = 0;
  // The same for a batch without greedy entries (one with any is kInvalidArgument).
  Status forward_batch(std::span<const BatchEntry> entries, std::vector<float>& logits);
};

// The greedy token of one logits row on the host (BatchEntry::greedy's definition).
int32_t greedy_token(std::span<const float> row);

// For a backend that computes every wanted row: moves the rows of greedy entries out of `logits`
// (rows of every entry with logits = true, in entry order) into their greedy tokens.
void split_greedy_rows(std::span<const BatchEntry> entries, int64_t vocab, std::vector<float>& logits,
                       std::vector<int32_t>& greedy);

// The checks forward_batch makes before running anything (batched_backend.cpp): a pool is
// allocated, every entry has tokens inside the vocabulary, fits the context, and its table covers
// its positions with blocks of the pool that no other entry holds.
Status check_batch_entries(std::span<const BatchEntry> entries, const kv_pool::KvPoolPlan& pool,
                           int64_t capacity, int64_t vocab);

}  // namespace llama_worker::runtime
