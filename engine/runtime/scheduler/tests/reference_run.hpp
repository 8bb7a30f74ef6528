// What a sequence gives alone: the single-sequence CpuBackend::forward (one-chunk prefill, then
// one token per step) with a Sampler of the sequence's own options. The scheduler must match it
// token for token and logits bit for bit.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "runtime/scheduler/scheduler.hpp"
#include "runtime/tests/tiny_cpu_backend.hpp"

namespace llama_worker::runtime::scheduler::testing {

struct ReferenceRun {
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> logits;  // the row each token was sampled from
  StopReason stop = StopReason::kNone;
};

inline ReferenceRun run_alone(const runtime::testing::TinyCpuModel& model, const std::vector<int32_t>& prompt,
                              const SequenceOptions& options) {
  ReferenceRun run;
  auto backend = model.backend();
  auto sampler = sampling::Sampler::create(options.sampling);
  EXPECT_TRUE(sampler);
  std::vector<int32_t> history = prompt;
  std::vector<float> logits;
  EXPECT_TRUE(backend->forward(prompt, LogitsMode::kLastPosition, logits));
  while (true) {
    auto token = sampler->sample(logits, history);
    EXPECT_TRUE(token);
    run.logits.push_back(logits);
    run.tokens.push_back(*token);
    history.push_back(*token);
    const auto& stops = options.stop_tokens;
    if (std::find(stops.begin(), stops.end(), *token) != stops.end()) {
      run.stop = StopReason::kEndOfGeneration;
      break;
    }
    if (static_cast<int64_t>(run.tokens.size()) >= options.max_tokens) {
      run.stop = StopReason::kTokenLimit;
      break;
    }
    EXPECT_TRUE(backend->forward(std::span(&*token, 1), LogitsMode::kLastPosition, logits));
  }
  return run;
}

// Records, per sequence, every logits row the scheduler samples from.
class LogitsRecorder {
 public:
  void attach(SchedulerOptions& options) {
    options.logits_observer = [this](SequenceId id, int64_t, std::span<const float> row) {
      std::lock_guard<std::mutex> lock(mutex_);
      rows_[id].emplace_back(row.begin(), row.end());
    };
  }
  std::vector<std::vector<float>> rows(SequenceId id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return rows_[id];
  }

 private:
  std::mutex mutex_;
  std::map<SequenceId, std::vector<std::vector<float>>> rows_;
};

// Tokens equal; each logits row bit-identical (memcmp, so -0.0 vs 0.0 or NaN payloads count).
inline void expect_same_as_alone(const ReferenceRun& alone, const std::vector<int32_t>& tokens,
                                 const std::vector<std::vector<float>>& rows, const std::string& what) {
  ASSERT_LE(tokens.size(), alone.tokens.size()) << what;
  for (size_t i = 0; i < tokens.size(); ++i) ASSERT_EQ(tokens[i], alone.tokens[i]) << what << " token " << i;
  ASSERT_GE(rows.size(), tokens.size()) << what;
  for (size_t i = 0; i < tokens.size(); ++i) {
    ASSERT_EQ(rows[i].size(), alone.logits[i].size()) << what;
    ASSERT_EQ(std::memcmp(rows[i].data(), alone.logits[i].data(), rows[i].size() * sizeof(float)), 0)
        << what << ": logits of token " << i << " differ from the sequence alone";
  }
}

}  // namespace llama_worker::runtime::scheduler::testing
