// error_code_name: every ErrorCode has its own human name, and a value outside the enum (a code
// read back from elsewhere, a future code) gets the fallback instead of undefined behaviour.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/status.hpp"

namespace llama_worker {
namespace {

constexpr int kFirstCode = static_cast<int>(ErrorCode::kOk);
constexpr int kLastCode = static_cast<int>(ErrorCode::kInternal);

TEST(ErrorCodeName, EveryCodeHasItsOwnName) {
  const std::string fallback = error_code_name(static_cast<ErrorCode>(kLastCode + 1));
  std::set<std::string> names;
  for (int value = kFirstCode; value <= kLastCode; ++value) {
    const std::string name = error_code_name(static_cast<ErrorCode>(value));
    EXPECT_FALSE(name.empty()) << "code " << value;
    EXPECT_NE(name, fallback) << "code " << value << " has the fallback name";
    EXPECT_TRUE(names.insert(name).second) << "code " << value << " repeats the name '" << name << "'";
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kLastCode - kFirstCode + 1));
}

TEST(ErrorCodeName, ValuesOutsideTheEnumGetTheFallback) {
  const std::string fallback = error_code_name(static_cast<ErrorCode>(kLastCode + 1));
  EXPECT_FALSE(fallback.empty());
  EXPECT_EQ(error_code_name(static_cast<ErrorCode>(-1)), fallback);
  EXPECT_EQ(error_code_name(static_cast<ErrorCode>(1000)), fallback);
}

TEST(ErrorCodeName, FailedStatusNamesItsCode) {
  const Status status = make_error(ErrorCode::kOutOfRange, "position 4096 is past the context");
  EXPECT_STREQ(error_code_name(status.code()), error_code_name(ErrorCode::kOutOfRange));
  EXPECT_STRNE(error_code_name(status.code()), error_code_name(ErrorCode::kOk));
}

}  // namespace
}  // namespace llama_worker
