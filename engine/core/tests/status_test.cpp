#include "core/status.hpp"

#include <gtest/gtest.h>

#include <string>

namespace llama_worker {
namespace {

Result<int> parse_positive(int value) {
  if (value <= 0) return make_error(ErrorCode::kInvalidArgument, "value must be positive");
  return value;
}

Result<int> doubled(int value) {
  LW_ASSIGN_OR_RETURN(int parsed, parse_positive(value));
  return parsed * 2;
}

Status check_positive(int value) {
  LW_TRY(parse_positive(value));
  return Status::ok();
}

TEST(Status, DefaultIsOk) {
  Status status;
  EXPECT_TRUE(status.is_ok());
  EXPECT_EQ(status.code(), ErrorCode::kOk);
}

TEST(Status, ErrorKeepsCodeAndMessage) {
  Status status = make_error(ErrorCode::kMalformedFile, "bad magic");
  EXPECT_FALSE(status.is_ok());
  EXPECT_EQ(status.code(), ErrorCode::kMalformedFile);
  EXPECT_EQ(status.message(), "bad magic");
  EXPECT_STREQ(error_code_name(status.code()), "malformed file");
}

TEST(Result, PropagatesThroughAssignOrReturn) {
  ASSERT_TRUE(doubled(21));
  EXPECT_EQ(*doubled(21), 42);
  auto failed = doubled(-1);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(failed.error().message, "value must be positive");
}

TEST(Status, TryPropagatesFailure) {
  EXPECT_TRUE(check_positive(3).is_ok());
  EXPECT_EQ(check_positive(0).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace llama_worker
