// Mean and sample standard deviation as llama-bench computes them; values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "e2e/statistics.hpp"

namespace llama_worker::bench {
namespace {

TEST(Summarize, TextbookSample) {
  // Sum 40, mean 5, squared deviations sum to 32: sample variance 32 / 7.
  const std::vector<double> samples{2, 4, 4, 4, 5, 5, 7, 9};
  const SampleSummary s = summarize(samples);
  EXPECT_EQ(s.count, 8);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_NEAR(s.stddev, std::sqrt(32.0 / 7.0), 1e-12);
  EXPECT_DOUBLE_EQ(s.median, 4.5);
  EXPECT_DOUBLE_EQ(s.min, 2.0);
  EXPECT_DOUBLE_EQ(s.max, 9.0);
}

TEST(Summarize, OddCountMedianIgnoresOrder) {
  const std::vector<double> samples{830.0, 810.0, 829.0};
  const SampleSummary s = summarize(samples);
  EXPECT_DOUBLE_EQ(s.median, 829.0);
  EXPECT_NEAR(s.mean, 823.0, 1e-12);
  // Deviations 7, -13, 6: squares 49 + 169 + 36 = 254, over 2.
  EXPECT_NEAR(s.stddev, std::sqrt(127.0), 1e-12);
}

TEST(Summarize, SingleSampleHasNoSpread) {
  const std::vector<double> samples{42.0};
  const SampleSummary s = summarize(samples);
  EXPECT_DOUBLE_EQ(s.mean, 42.0);
  EXPECT_DOUBLE_EQ(s.stddev, 0.0);
}

TEST(Summarize, LargeEqualValuesStayExact) {
  // A one-pass sum-of-squares formula cancels catastrophically here (errors far above 1);
  // the two-pass one stays at rounding level.
  const std::vector<double> samples(5, 1e9 + 0.1);
  const SampleSummary s = summarize(samples);
  EXPECT_NEAR(s.stddev, 0.0, 1e-6);
}

TEST(Summarize, EmptyIsZero) {
  const SampleSummary s = summarize({});
  EXPECT_EQ(s.count, 0);
  EXPECT_DOUBLE_EQ(s.mean, 0.0);
}

}  // namespace
}  // namespace llama_worker::bench
