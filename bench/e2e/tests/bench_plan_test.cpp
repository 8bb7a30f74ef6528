// Count lists (-p/-n/-d) and their expansion into llama-bench's test cases and names.
#include <gtest/gtest.h>

#include "e2e/bench_plan.hpp"

namespace llama_worker::bench {
namespace {

TEST(ParseCountList, SingleAndSeveralValues) {
  auto one = parse_count_list("512", "-p");
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_EQ(*one, (std::vector<int64_t>{512}));
  auto several = parse_count_list("0,2048,3000", "-d");
  ASSERT_TRUE(several) << several.error().message;
  EXPECT_EQ(*several, (std::vector<int64_t>{0, 2048, 3000}));
}

TEST(ParseCountList, RejectsWhatIsNotACount) {
  for (const char* text : {"", "abc", "512,", ",512", "12x", "-1", " 512", "1,,2", "3.5", "99999999999"}) {
    auto counts = parse_count_list(text, "-n");
    EXPECT_FALSE(counts) << "'" << text << "' was accepted";
    if (!counts) {
      EXPECT_EQ(counts.error().code, ErrorCode::kInvalidArgument);
      EXPECT_EQ(counts.error().message.rfind("-n: ", 0), 0u) << counts.error().message;
    }
  }
  auto bad = parse_count_list("512,abc", "-p");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "-p: 'abc' is not a token count");
}

TEST(MakeTestCases, FollowsLlamaBenchOrderAndSkipsZeros) {
  BenchSettings settings;
  settings.prompt_counts = {512, 0};
  settings.generate_counts = {128};
  settings.depths = {0, 2048};
  auto cases = make_test_cases(settings);
  ASSERT_TRUE(cases) << cases.error().message;
  std::vector<std::string> names;
  for (const TestCase& test : *cases) names.push_back(test_name(test));
  EXPECT_EQ(names, (std::vector<std::string>{"pp512", "tg128", "pp512 @ d2048", "tg128 @ d2048"}));
  EXPECT_EQ((*cases)[3].kind, TestKind::kGenerate);
  EXPECT_EQ((*cases)[3].depth, 2048);
  EXPECT_EQ((*cases)[3].tokens, 128);
}

TEST(MakeTestCases, RejectsEmptyPlans) {
  BenchSettings nothing;
  nothing.prompt_counts = {0};
  nothing.generate_counts = {0};
  EXPECT_FALSE(make_test_cases(nothing));
  BenchSettings no_reps;
  no_reps.repetitions = 0;
  EXPECT_FALSE(make_test_cases(no_reps));
  BenchSettings no_depth;
  no_depth.depths.clear();
  EXPECT_FALSE(make_test_cases(no_depth));
}

TEST(RequiredContext, IsLlamaBenchsSum) {
  BenchSettings settings;
  settings.prompt_counts = {128, 512};
  settings.generate_counts = {64, 128};
  settings.depths = {0, 3000};
  EXPECT_EQ(required_context(settings), 3000 + 512 + 128);
}

}  // namespace
}  // namespace llama_worker::bench
