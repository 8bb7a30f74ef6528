// The batch checks every BatchedInferenceBackend makes before running anything.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "runtime/batched_backend.hpp"

namespace llama_worker::runtime {
namespace {

Error bad_entry(size_t index, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument,
                    "forward_batch: entry " + std::to_string(index) + ": " + what);
}

}  // namespace

Status check_batch_entries(std::span<const BatchEntry> entries, const kv_pool::KvPoolPlan& pool,
                           int64_t capacity, int64_t vocab) {
  if (pool.blocks_total == 0) {
    return make_error(ErrorCode::kInvalidArgument, "forward_batch: no KV pool (allocate_kv_blocks first)");
  }
  if (entries.empty()) return make_error(ErrorCode::kInvalidArgument, "forward_batch: no entries");
  std::vector<bool> block_seen(static_cast<size_t>(pool.blocks_total), false);
  for (size_t e = 0; e < entries.size(); ++e) {
    const BatchEntry& entry = entries[e];
    const int64_t n = static_cast<int64_t>(entry.tokens.size());
    if (n == 0) return bad_entry(e, "no tokens");
    if (entry.start_position < 0) return bad_entry(e, "negative start position");
    if (entry.start_position + n > capacity) {
      return make_error(ErrorCode::kOutOfRange, "forward_batch: entry " + std::to_string(e) + ": " +
                                                    std::to_string(entry.start_position) + " cached + " +
                                                    std::to_string(n) + " new tokens exceed the context of " +
                                                    std::to_string(capacity) + " positions");
    }
    for (int64_t t = 0; t < n; ++t) {
      const int32_t id = entry.tokens[static_cast<size_t>(t)];
      if (id < 0 || id >= vocab) {
        return bad_entry(e, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                std::to_string(vocab) + ")");
      }
    }
    const int64_t covered = static_cast<int64_t>(entry.block_table.size()) * pool.block_positions;
    if (covered < entry.start_position + n) {
      return bad_entry(e, "its " + std::to_string(entry.block_table.size()) + " blocks hold " +
                              std::to_string(covered) + " positions, not " +
                              std::to_string(entry.start_position + n));
    }
    for (const int32_t block : entry.block_table) {
      if (block < 0 || block >= pool.blocks_total) {
        return bad_entry(e, "block " + std::to_string(block) + " is outside the pool of " +
                                std::to_string(pool.blocks_total));
      }
      if (block_seen[static_cast<size_t>(block)]) {
        return bad_entry(e, "block " + std::to_string(block) + " is in two block tables");
      }
      block_seen[static_cast<size_t>(block)] = true;
    }
  }
  return Status::ok();
}

Status BatchedInferenceBackend::forward_batch(std::span<const BatchEntry> entries,
                                              std::vector<float>& logits) {
  for (size_t e = 0; e < entries.size(); ++e) {
    if (entries[e].greedy) return bad_entry(e, "a greedy entry needs the greedy tokens' output");
  }
  std::vector<int32_t> greedy;
  return forward_batch(entries, logits, greedy);
}

int32_t greedy_token(std::span<const float> row) {
  size_t best = 0;
  for (size_t i = 0; i < row.size(); ++i) {
    if (!std::isfinite(row[i])) return kGreedyNonFinite;
    if (row[i] > row[best]) best = i;
  }
  return row.empty() ? kGreedyNonFinite : static_cast<int32_t>(best);
}

void split_greedy_rows(std::span<const BatchEntry> entries, int64_t vocab, std::vector<float>& logits,
                       std::vector<int32_t>& greedy) {
  greedy.clear();
  const size_t width = static_cast<size_t>(vocab);
  size_t kept = 0, row = 0;
  for (const BatchEntry& entry : entries) {
    if (!entry.logits) continue;
    const float* values = logits.data() + row * width;
    if (entry.greedy) {
      greedy.push_back(greedy_token(std::span<const float>(values, width)));
    } else {
      if (kept != row) std::copy(values, values + width, logits.data() + kept * width);
      ++kept;
    }
    ++row;
  }
  logits.resize(kept * width);
}

}  // namespace llama_worker::runtime
