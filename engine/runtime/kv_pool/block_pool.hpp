// Block accounting of the paged KV cache: which of the pool's blocks are free, and which blocks
// each sequence holds (its block table). Only ids are handed out here; the memory they index is
// the backend's (CpuBackend::allocate_kv_blocks, and on the GPU the one cudaMalloc of the pool).
//
// Invariants:
//   - every block id in [0, blocks_total) is either free or held by exactly one table;
//   - take_for_positions is all-or-nothing: when it fails, the pool and the table are unchanged;
//   - blocks_free() + blocks held by all tables == blocks_total (no block is lost or duplicated;
//     giving back a block that is free already is a kInternal error, never a silent corruption).
// Freed blocks go to the top of a stack and are taken first (LIFO): reuse is deterministic and
// the most recently touched memory is reused first. Blocks of one table need not be contiguous,
// so a pool fragmented by sequences ending in any order serves any request that fits its count.
//
// Not thread-safe: the scheduler calls it under its own mutex.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.hpp"
#include "runtime/kv_pool/kv_pool_plan.hpp"

namespace llama_worker::runtime::kv_pool {

// The blocks one sequence holds, in position order: block i holds positions
// [i * block_positions, (i + 1) * block_positions).
class BlockTable {
 public:
  BlockTable() = default;
  BlockTable(BlockTable&&) = default;
  BlockTable& operator=(BlockTable&&) = default;
  BlockTable(const BlockTable&) = delete;  // two owners of one block would free it twice
  BlockTable& operator=(const BlockTable&) = delete;

  std::span<const int32_t> blocks() const { return blocks_; }
  int64_t block_count() const { return static_cast<int64_t>(blocks_.size()); }

 private:
  friend class BlockPool;
  std::vector<int32_t> blocks_;
};

class BlockPool {
 public:
  BlockPool(int64_t blocks_total, int64_t block_positions, int64_t bytes_per_block);
  explicit BlockPool(const KvPoolPlan& plan)
      : BlockPool(plan.blocks_total, plan.block_positions, plan.bytes_per_block) {}

  // Grows `table` until it covers `positions` positions. The kv-pool-exhausted error is
  // kOutOfMemory with a message that starts "KV pool exhausted:" and names the blocks needed and
  // free ("... needs 3 more blocks of 16 positions to hold 40 positions; 2 of 8 blocks are free").
  Status take_for_positions(BlockTable& table, int64_t positions);
  // Returns every block of `table` to the pool and empties it.
  Status release(BlockTable& table);

  int64_t blocks_total() const { return blocks_total_; }
  int64_t blocks_free() const { return static_cast<int64_t>(free_.size()); }
  int64_t blocks_used() const { return blocks_total_ - blocks_free(); }
  int64_t block_positions() const { return block_positions_; }
  int64_t bytes_used() const { return blocks_used() * bytes_per_block_; }
  int64_t bytes_total() const { return blocks_total_ * bytes_per_block_; }

 private:
  int64_t blocks_total_;
  int64_t block_positions_;
  int64_t bytes_per_block_;
  std::vector<int32_t> free_;  // a stack: back() is taken next
  std::vector<bool> in_use_;   // (blocks_total) catches a double release
};

// True for the error take_for_positions returns when the pool has too few free blocks.
bool is_kv_pool_exhausted(const Error& error);

}  // namespace llama_worker::runtime::kv_pool
