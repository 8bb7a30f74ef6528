#include "sampling/deterministic_exp.hpp"

#include <cmath>
#include <limits>

namespace llama_worker::sampling {

double deterministic_exp(double x) {
  if (x < -746.0) return 0.0;
  if (x > 709.8) return std::numeric_limits<double>::infinity();
  // x = k ln2 + r with |r| <= ln2/2; ln2 split in a high part with trailing zero bits (k * hi is
  // exact for |k| < 2^11) and a low correction (Cody & Waite).
  constexpr double kInverseLn2 = 1.4426950408889634;
  constexpr double kLn2High = 6.93147180369123816490e-01;
  constexpr double kLn2Low = 1.90821492927058770002e-10;
  const double k = std::round(x * kInverseLn2);
  const double r = (x - k * kLn2High) - k * kLn2Low;
  // Taylor series to r^14/14!: truncation error < 1e-19 relative for |r| <= 0.35.
  double sum = 1.0;
  for (int n = 14; n >= 1; --n) sum = 1.0 + sum * r / static_cast<double>(n);
  return std::ldexp(sum, static_cast<int>(k));  // exact scaling by 2^k (rounded once if subnormal)
}

}  // namespace llama_worker::sampling
