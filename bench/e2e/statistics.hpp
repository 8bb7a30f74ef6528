// Summary statistics of repeated measurements, as llama-bench reports them: the mean and the
// sample standard deviation (divisor n - 1; 0 for a single sample) of the per-repetition rates.
// The median and the extremes come along for the JSON record.
#pragma once

#include <span>

namespace llama_worker::bench {

struct SampleSummary {
  double mean = 0;
  double stddev = 0;  // sample standard deviation (n - 1), two-pass
  double median = 0;  // middle value; mean of the two middle values for an even count
  double min = 0;
  double max = 0;
  int count = 0;
};

// All zeros for an empty span.
SampleSummary summarize(std::span<const double> samples);

}  // namespace llama_worker::bench
