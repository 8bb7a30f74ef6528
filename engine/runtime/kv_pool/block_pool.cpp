#include "runtime/kv_pool/block_pool.hpp"

#include <string>
#include <string_view>

namespace llama_worker::runtime::kv_pool {
namespace {

constexpr std::string_view kExhaustedPrefix = "KV pool exhausted: ";

}  // namespace

BlockPool::BlockPool(int64_t blocks_total, int64_t block_positions, int64_t bytes_per_block)
    : blocks_total_(blocks_total),
      block_positions_(block_positions),
      bytes_per_block_(bytes_per_block),
      in_use_(static_cast<size_t>(blocks_total), false) {
  free_.reserve(static_cast<size_t>(blocks_total));
  // Highest id at the bottom of the stack: a fresh pool hands out 0, 1, 2, ...
  for (int64_t id = blocks_total - 1; id >= 0; --id) free_.push_back(static_cast<int32_t>(id));
}

Status BlockPool::take_for_positions(BlockTable& table, int64_t positions) {
  if (positions < 0) return make_error(ErrorCode::kInvalidArgument, "KV pool: negative position count");
  const int64_t needed = blocks_for_positions(positions, block_positions_) - table.block_count();
  if (needed <= 0) return Status::ok();
  if (needed > blocks_free()) {
    return make_error(ErrorCode::kOutOfMemory,
                      std::string(kExhaustedPrefix) + "needs " + std::to_string(needed) + " more block" +
                          (needed == 1 ? "" : "s") + " of " + std::to_string(block_positions_) +
                          " positions to hold " + std::to_string(positions) + " positions; " +
                          std::to_string(blocks_free()) + " of " + std::to_string(blocks_total_) +
                          " blocks are free");
  }
  for (int64_t i = 0; i < needed; ++i) {
    const int32_t id = free_.back();
    free_.pop_back();
    in_use_[static_cast<size_t>(id)] = true;
    table.blocks_.push_back(id);
  }
  return Status::ok();
}

Status BlockPool::release(BlockTable& table) {
  for (const int32_t id : table.blocks_) {
    if (id < 0 || id >= blocks_total_ || !in_use_[static_cast<size_t>(id)]) {
      return make_error(ErrorCode::kInternal,
                        "KV pool: block " + std::to_string(id) + " was given back but is not in use");
    }
  }
  // Back in reverse so the table's first block is taken first again (LIFO reuse).
  for (auto it = table.blocks_.rbegin(); it != table.blocks_.rend(); ++it) {
    in_use_[static_cast<size_t>(*it)] = false;
    free_.push_back(*it);
  }
  table.blocks_.clear();
  return Status::ok();
}

bool is_kv_pool_exhausted(const Error& error) {
  return error.code == ErrorCode::kOutOfMemory &&
         std::string_view(error.message).starts_with(kExhaustedPrefix);
}

}  // namespace llama_worker::runtime::kv_pool
