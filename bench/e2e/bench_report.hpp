// Output of `llama-worker bench`: a markdown table in llama-bench's layout (model, size, params,
// backend, test, t/s as "mean ± stddev") followed by load time and device memory lines, or one
// JSON object whose per-test fields use llama-bench's JSON names (n_prompt, n_gen, n_depth,
// avg_ts, stddev_ts, samples_ts, avg_ns, stddev_ns, samples_ns) so one script reads both.
#pragma once

#include <string>

#include "e2e/bench_runner.hpp"

namespace llama_worker::bench {

std::string format_markdown(const BenchReport& report);

// `engine_version` goes into the record ("0.1.0"); `date` is an ISO-8601 UTC timestamp.
std::string format_json(const BenchReport& report, const std::string& engine_version,
                        const std::string& date);

// "2026-11-26T20:55:03Z" for the current time.
std::string utc_timestamp_now();

}  // namespace llama_worker::bench
