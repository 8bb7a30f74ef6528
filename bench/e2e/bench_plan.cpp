// Settings -> test cases (see bench_plan.hpp for the definitions).
#include "e2e/bench_plan.hpp"

#include <algorithm>
#include <charconv>

namespace llama_worker::bench {

namespace {

constexpr int64_t kMaxCount = int64_t{1} << 24;  // far above any context; keeps sums from overflowing

}  // namespace

Result<std::vector<int64_t>> parse_count_list(std::string_view text, std::string_view flag) {
  std::vector<int64_t> counts;
  const std::string prefix = std::string(flag) + ": ";
  if (text.empty()) return make_error(ErrorCode::kInvalidArgument, prefix + "empty list");
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    int64_t value = -1;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || error != std::errc() || end != item.data() + item.size() || value < 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        prefix + "'" + std::string(item) + "' is not a token count");
    }
    if (value > kMaxCount) {
      return make_error(ErrorCode::kInvalidArgument,
                        prefix + std::to_string(value) + " is larger than " + std::to_string(kMaxCount));
    }
    counts.push_back(value);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return counts;
}

Result<std::vector<TestCase>> make_test_cases(const BenchSettings& settings) {
  if (settings.repetitions < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "repetitions must be at least 1, got " + std::to_string(settings.repetitions));
  }
  if (settings.prompt_counts.empty() || settings.generate_counts.empty() || settings.depths.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "-p, -n and -d each need at least one value");
  }
  std::vector<TestCase> cases;
  for (const int64_t depth : settings.depths) {
    for (const int64_t p : settings.prompt_counts) {
      if (p > 0) cases.push_back({TestKind::kPrompt, p, depth});
    }
    for (const int64_t n : settings.generate_counts) {
      if (n > 0) cases.push_back({TestKind::kGenerate, n, depth});
    }
  }
  if (cases.empty())
    return make_error(ErrorCode::kInvalidArgument, "nothing to measure: every -p and -n value is 0");
  return cases;
}

std::string test_name(const TestCase& test) {
  std::string name = (test.kind == TestKind::kPrompt ? "pp" : "tg") + std::to_string(test.tokens);
  if (test.depth > 0) name += " @ d" + std::to_string(test.depth);
  return name;
}

int64_t required_context(const BenchSettings& settings) {
  const auto largest = [](const std::vector<int64_t>& values) {
    return values.empty() ? int64_t{0} : *std::max_element(values.begin(), values.end());
  };
  if (!settings.parallel.empty())
    return largest(settings.prompt_counts) + largest(settings.generate_counts) + 1;
  return largest(settings.depths) + largest(settings.prompt_counts) + largest(settings.generate_counts);
}

}  // namespace llama_worker::bench
