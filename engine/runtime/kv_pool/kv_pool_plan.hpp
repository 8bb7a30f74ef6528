// Sizing the paged KV cache before anything is allocated.
//
// The pool is one allocation of `blocks_total` blocks. A block holds `block_positions`
// consecutive positions of one sequence, for every layer, keys and values:
//   bytes_per_block = layers * 2 (K, V) * block_positions * kv_width * bytes_per_element
// The plan says what the pool needs (blocks, bytes) so a loader can check it against the memory
// it has and refuse with a clear message instead of failing halfway through an allocation.
//
// Default size: every admitted sequence can reach the full context,
//   blocks_total = max_sequences * ceil(context / block_positions);
// a caller may ask for fewer blocks (oversubscription): then a sequence that cannot grow gets a
// kv-pool-exhausted error (block_pool.hpp) while the others go on.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.hpp"

namespace llama_worker::runtime::kv_pool {

// 16 positions per block: at most 15 positions wasted per sequence (the tail of its last block),
// small enough that a 64-position test context still spans several blocks and exercises the
// tables, and a multiple of the 8/16-row tiles a GPU paged-attention kernel reads (vLLM uses 16).
inline constexpr int64_t kDefaultBlockPositions = 16;

// What one position of the cache holds, per the backend that stores it.
struct KvGeometry {
  int64_t layers = 0;             // transformer blocks
  int64_t kv_width = 0;           // kv_heads * head_dim elements per K (and per V) row
  int64_t bytes_per_element = 4;  // fp32 on the CPU backend
};

struct KvPoolRequest {
  KvGeometry geometry;
  int64_t max_sequences = 0;  // sequences admitted at once (max_inferences)
  int64_t context = 0;        // positions one sequence may reach
  int64_t block_positions = kDefaultBlockPositions;
  int64_t blocks_total = 0;  // 0: max_sequences * blocks_per_sequence; else this many (>= 1)
  int64_t max_bytes = 0;     // 0: no limit; else a plan needing more is kOutOfMemory
};

struct KvPoolPlan {
  KvGeometry geometry;
  int64_t block_positions = 0;
  int64_t blocks_per_sequence = 0;  // ceil(context / block_positions): one sequence at full context
  int64_t blocks_total = 0;
  int64_t bytes_per_block = 0;
  int64_t bytes_total = 0;  // blocks_total * bytes_per_block

  // Elements (not bytes) of one K or V slab of one block and layer: block_positions * kv_width.
  int64_t slab_elements() const { return block_positions * geometry.kv_width; }
  // "64 blocks of 16 positions (32.0 KiB each), 2.0 MiB in all"
  std::string describe() const;
};

// kInvalidArgument for a non-positive size; kOutOfRange when a product overflows int64;
// kOutOfMemory when the plan exceeds max_bytes (the message names what it needs and the limit).
Result<KvPoolPlan> plan_kv_pool(const KvPoolRequest& request);

// Blocks that hold `positions` positions: ceil(positions / block_positions).
inline int64_t blocks_for_positions(int64_t positions, int64_t block_positions) {
  return (positions + block_positions - 1) / block_positions;
}

}  // namespace llama_worker::runtime::kv_pool
