// Mean, sample standard deviation, median and range (see statistics.hpp).
#include "e2e/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace llama_worker::bench {

SampleSummary summarize(std::span<const double> samples) {
  SampleSummary summary;
  if (samples.empty()) return summary;
  summary.count = static_cast<int>(samples.size());
  double sum = 0;
  for (const double x : samples) sum += x;
  summary.mean = sum / static_cast<double>(samples.size());
  if (samples.size() > 1) {
    double squares = 0;
    for (const double x : samples) squares += (x - summary.mean) * (x - summary.mean);
    summary.stddev = std::sqrt(squares / static_cast<double>(samples.size() - 1));
  }
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  const size_t middle = sorted.size() / 2;
  summary.median = sorted.size() % 2 == 1 ? sorted[middle] : 0.5 * (sorted[middle - 1] + sorted[middle]);
  summary.min = sorted.front();
  summary.max = sorted.back();
  return summary;
}

}  // namespace llama_worker::bench
