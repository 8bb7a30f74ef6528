// The KV pool plan: sizes from max_sequences and context, explicit block counts, the byte limit
// and every invalid input.
#include <gtest/gtest.h>

#include "runtime/kv_pool/kv_pool_plan.hpp"

namespace llama_worker::runtime::kv_pool {
namespace {

KvPoolRequest tiny_request() {
  return {.geometry = {.layers = 2, .kv_width = 12, .bytes_per_element = 4},
          .max_sequences = 4,
          .context = 40,
          .block_positions = 16};
}

TEST(KvPoolPlan, SizesEverySequenceForTheFullContext) {
  auto plan = plan_kv_pool(tiny_request());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->blocks_per_sequence, 3);  // ceil(40 / 16)
  EXPECT_EQ(plan->blocks_total, 12);
  EXPECT_EQ(plan->bytes_per_block, 2 * 2 * 16 * 12 * 4);
  EXPECT_EQ(plan->bytes_total, 12 * plan->bytes_per_block);
  EXPECT_EQ(plan->slab_elements(), 16 * 12);
  EXPECT_EQ(plan->describe(), "12 blocks of 16 positions (3.0 KiB each), 36.0 KiB in all");
}

TEST(KvPoolPlan, ExplicitBlockCountOversubscribes) {
  KvPoolRequest request = tiny_request();
  request.blocks_total = 5;
  auto plan = plan_kv_pool(request);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->blocks_total, 5);
  EXPECT_EQ(plan->blocks_per_sequence, 3);
}

TEST(KvPoolPlan, ByteLimitSaysWhatItNeeds) {
  KvPoolRequest request = tiny_request();
  request.max_bytes = 1024;
  auto plan = plan_kv_pool(request);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::kOutOfMemory);
  EXPECT_NE(plan.error().message.find("needs 12 blocks of 16 positions"), std::string::npos)
      << plan.error().message;
  request.max_bytes = 12 * 3072;
  EXPECT_TRUE(plan_kv_pool(request));  // exactly at the limit fits
}

TEST(KvPoolPlan, RejectsNonPositiveSizesAndOverflow) {
  for (int field = 0; field < 6; ++field) {
    KvPoolRequest request = tiny_request();
    int64_t* targets[] = {
        &request.geometry.layers, &request.geometry.kv_width, &request.geometry.bytes_per_element,
        &request.max_sequences,   &request.context,           &request.block_positions};
    *targets[field] = 0;
    auto plan = plan_kv_pool(request);
    ASSERT_FALSE(plan) << "field " << field;
    EXPECT_EQ(plan.error().code, ErrorCode::kInvalidArgument);
  }
  KvPoolRequest huge = tiny_request();
  huge.geometry.kv_width = int64_t{1} << 40;
  huge.max_sequences = int64_t{1} << 20;
  auto plan = plan_kv_pool(huge);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::kOutOfRange);
}

}  // namespace
}  // namespace llama_worker::runtime::kv_pool
