// The generator and the deterministic exp: known values and accuracy.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "sampling/deterministic_exp.hpp"
#include "sampling/random.hpp"

namespace llama_worker::sampling {
namespace {

TEST(Generator, SameSeedSameStreamDifferentSeedDifferentStream) {
  Generator a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    EXPECT_NE(x, c.next_u64());
  }
}

TEST(Generator, UnitDoublesAreInRangeAndRoughlyUniform) {
  Generator generator(7);
  int buckets[10] = {};
  const int draws = 100000;
  for (int i = 0; i < draws; ++i) {
    const double u = generator.next_unit_double();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    ++buckets[static_cast<int>(u * 10)];
  }
  for (int count : buckets) EXPECT_NEAR(count, draws / 10, 600);  // ~6.3 standard deviations
}

TEST(DeterministicExp, MatchesLibmToAFewUlp) {
  for (double x = -745.0; x <= 709.0; x += 0.0137) {
    const double ours = deterministic_exp(x), libm = std::exp(x);
    if (libm < 1e-300) {
      EXPECT_NEAR(ours, libm, 1e-300);
    } else {
      EXPECT_NEAR(ours / libm, 1.0, 4e-16) << x;
    }
  }
  EXPECT_EQ(deterministic_exp(0.0), 1.0);
  EXPECT_EQ(deterministic_exp(-1000.0), 0.0);
  EXPECT_TRUE(std::isinf(deterministic_exp(1000.0)));
}

}  // namespace
}  // namespace llama_worker::sampling
