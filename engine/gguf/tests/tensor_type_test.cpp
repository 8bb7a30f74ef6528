#include "gguf/tensor_type.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace llama_worker::gguf {
namespace {

TEST(TensorType, KnownTypesHaveGgmlLayouts) {
  EXPECT_EQ(traits(TensorType::kQ4_K).bytes_per_block, 144);
  EXPECT_EQ(traits(TensorType::kQ6_K).bytes_per_block, 210);
  EXPECT_EQ(traits(TensorType::kQ8_0).block_size, 32);
  EXPECT_EQ(tensor_type_name(TensorType::kBF16), "BF16");
}

TEST(TensorType, RetiredAndUnknownIdsAreRejected) {
  EXPECT_FALSE(tensor_type_traits(4).has_value());   // Q4_2, retired
  EXPECT_FALSE(tensor_type_traits(31).has_value());  // Q4_0_4_4, retired
  EXPECT_FALSE(tensor_type_traits(1000).has_value());
  ASSERT_TRUE(tensor_type_traits(12).has_value());
  EXPECT_EQ(tensor_type_traits(12)->name, "Q4_K");
}

TEST(TensorType, RowBytesChecksBlockMultipleAndOverflow) {
  auto bytes = row_bytes(TensorType::kQ4_K, 512);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, 288u);
  EXPECT_FALSE(row_bytes(TensorType::kQ4_K, 896));  // 896 is not a multiple of 256
  EXPECT_FALSE(row_bytes(TensorType::kF32, -1));
  EXPECT_FALSE(row_bytes(TensorType::kF32, INT64_MAX));  // 4 * (2^63 - 1) bytes overflows
}

}  // namespace
}  // namespace llama_worker::gguf
