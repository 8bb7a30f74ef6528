// Block accounting: taking blocks as a sequence grows, exhaustion (all-or-nothing, a distinct
// error), release, LIFO reuse, and fragmentation (a table's blocks need not be contiguous).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "runtime/kv_pool/block_pool.hpp"

namespace llama_worker::runtime::kv_pool {
namespace {

std::vector<int32_t> ids(const BlockTable& table) { return {table.blocks().begin(), table.blocks().end()}; }

TEST(BlockPool, GrowsOneBlockPerBlockPositions) {
  BlockPool pool(8, 16, 100);
  BlockTable table;
  ASSERT_TRUE(pool.take_for_positions(table, 1));
  EXPECT_EQ(ids(table), (std::vector<int32_t>{0}));
  ASSERT_TRUE(pool.take_for_positions(table, 16));  // still one block
  EXPECT_EQ(table.block_count(), 1);
  ASSERT_TRUE(pool.take_for_positions(table, 17));
  EXPECT_EQ(ids(table), (std::vector<int32_t>{0, 1}));
  ASSERT_TRUE(pool.take_for_positions(table, 5));  // never shrinks
  EXPECT_EQ(table.block_count(), 2);
  EXPECT_EQ(pool.blocks_free(), 6);
  EXPECT_EQ(pool.blocks_used(), 2);
  EXPECT_EQ(pool.bytes_used(), 200);
  EXPECT_EQ(pool.bytes_total(), 800);
}

TEST(BlockPool, ExhaustionIsAllOrNothingAndNamesTheCounts) {
  BlockPool pool(4, 16, 1);
  BlockTable first, second;
  ASSERT_TRUE(pool.take_for_positions(first, 40));      // 3 blocks
  Status status = pool.take_for_positions(second, 33);  // needs 3, 1 free
  ASSERT_FALSE(status);
  EXPECT_TRUE(is_kv_pool_exhausted(status.error()));
  EXPECT_EQ(
      status.message(),
      "KV pool exhausted: needs 3 more blocks of 16 positions to hold 33 positions; 1 of 4 blocks are free");
  EXPECT_EQ(second.block_count(), 0);
  EXPECT_EQ(pool.blocks_free(), 1);
  // The other table goes on growing into what is left.
  ASSERT_TRUE(pool.take_for_positions(first, 64));
  EXPECT_EQ(pool.blocks_free(), 0);
  EXPECT_FALSE(is_kv_pool_exhausted(make_error(ErrorCode::kOutOfMemory, "cudaMalloc failed")));
}

TEST(BlockPool, ReleaseReturnsEveryBlockAndReusesLastInFirstOut) {
  BlockPool pool(6, 4, 1);
  BlockTable a, b;
  ASSERT_TRUE(pool.take_for_positions(a, 8));  // 0, 1
  ASSERT_TRUE(pool.take_for_positions(b, 8));  // 2, 3
  ASSERT_TRUE(pool.release(a));
  EXPECT_EQ(a.block_count(), 0);
  EXPECT_EQ(pool.blocks_free(), 4);
  BlockTable c;
  ASSERT_TRUE(pool.take_for_positions(c, 12));
  EXPECT_EQ(ids(c), (std::vector<int32_t>{0, 1, 4}));  // a's blocks first, in a's order
  ASSERT_TRUE(pool.release(b));
  ASSERT_TRUE(pool.release(c));
  EXPECT_EQ(pool.blocks_free(), 6);
  ASSERT_TRUE(pool.release(c));  // an empty table gives back nothing
  EXPECT_EQ(pool.blocks_free(), 6);
}

TEST(BlockPool, FragmentedPoolServesAnyRequestThatFitsItsCount) {
  BlockPool pool(8, 2, 1);
  std::vector<BlockTable> tables(8);
  for (BlockTable& table : tables) ASSERT_TRUE(pool.take_for_positions(table, 2));
  for (size_t i = 0; i < tables.size(); i += 2) ASSERT_TRUE(pool.release(tables[i]));  // free 0, 2, 4, 6
  BlockTable big;
  ASSERT_TRUE(pool.take_for_positions(big, 8));
  std::vector<int32_t> got = ids(big);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int32_t>{0, 2, 4, 6}));
  EXPECT_EQ(pool.blocks_free(), 0);
  // No block is held twice.
  std::set<int32_t> held(big.blocks().begin(), big.blocks().end());
  for (size_t i = 1; i < tables.size(); i += 2) {
    for (int32_t id : tables[i].blocks()) EXPECT_TRUE(held.insert(id).second) << id;
  }
  EXPECT_EQ(held.size(), 8u);
}

TEST(BlockPool, NegativePositionsAreRejected) {
  BlockPool pool(2, 16, 1);
  BlockTable table;
  Status status = pool.take_for_positions(table, -1);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace llama_worker::runtime::kv_pool
