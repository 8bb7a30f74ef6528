// The bench loop: which forward passes each case issues (a recording fake backend), the context
// check, the memory tracker, and whole runs on the CPU reference backend with a tiny model.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "e2e/bench_runner.hpp"
#include "gguf/file.hpp"
#include "model/testing/tiny_model.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/tests/tiny_cpu_backend.hpp"

namespace llama_worker::bench {
namespace {

// Records the size of every forward batch; rejects what a real backend rejects.
class RecordingBackend final : public runtime::InferenceBackend {
 public:
  RecordingBackend(int64_t vocab, int64_t capacity) : capacity_(capacity) { config_.vocab_size = vocab; }
  const model::ModelConfig& config() const override { return config_; }
  int64_t context_capacity() const override { return capacity_; }
  int64_t position() const override { return position_; }
  void reset() override {
    position_ = 0;
    ++resets;
  }
  Status forward(std::span<const int32_t> tokens, runtime::LogitsMode mode,
                 std::vector<float>& logits) override {
    if (mode != runtime::LogitsMode::kLastPosition)
      return make_error(ErrorCode::kInvalidArgument, "bench asked for all logits");
    if (position_ + static_cast<int64_t>(tokens.size()) > capacity_)
      return make_error(ErrorCode::kOutOfRange, "full");
    for (const int32_t id : tokens) {
      if (id < 0 || id >= config_.vocab_size)
        return make_error(ErrorCode::kInvalidArgument, "token out of range");
    }
    batches.push_back(static_cast<int64_t>(tokens.size()));
    position_ += static_cast<int64_t>(tokens.size());
    logits.assign(static_cast<size_t>(config_.vocab_size), 0.0f);
    return Status::ok();
  }

  std::vector<int64_t> batches;
  int resets = 0;

 private:
  model::ModelConfig config_;
  int64_t capacity_;
  int64_t position_ = 0;
};

// Scripted device memory readings; counts synchronisations.
class ScriptedProbe final : public DeviceProbe {
 public:
  explicit ScriptedProbe(std::vector<int64_t> readings) : readings_(std::move(readings)) {}
  Status initialize() override { return Status::ok(); }
  std::string name() const override { return "scripted"; }
  Status synchronize() override {
    ++synchronizations;
    return Status::ok();
  }
  std::optional<int64_t> used_bytes() override {
    if (next_ >= readings_.size())
      return readings_.empty() ? std::nullopt : std::optional<int64_t>(readings_.back());
    return readings_[next_++];
  }
  std::optional<int64_t> total_bytes() override { return std::nullopt; }

  int synchronizations = 0;

 private:
  std::vector<int64_t> readings_;
  size_t next_ = 0;
};

std::vector<int64_t> repeat(const std::vector<int64_t>& pattern, int times) {
  std::vector<int64_t> out;
  for (int i = 0; i < times; ++i) out.insert(out.end(), pattern.begin(), pattern.end());
  return out;
}

TEST(RunTestCase, DecodeAtDepthIsOneTokenPerPassAfterAnUntimedFill) {
  RecordingBackend backend(1000, 64);
  ScriptedProbe probe({});
  MemoryTracker memory;
  BenchSettings settings;
  settings.repetitions = 3;
  std::mt19937_64 rng(7);
  auto result = run_test_case(backend, probe, {TestKind::kGenerate, 8, 20}, settings, rng, memory);
  ASSERT_TRUE(result) << result.error().message;
  // Warm-up and three timed runs, each: reset, fill 20, then 8 single-token passes.
  EXPECT_EQ(backend.resets, 4);
  EXPECT_EQ(backend.batches, repeat({20, 1, 1, 1, 1, 1, 1, 1, 1}, 4));
  EXPECT_EQ(probe.synchronizations, 8);  // before and after each timed part
  ASSERT_EQ(result->tokens_per_second.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_GT(result->seconds[i], 0.0);
    EXPECT_NEAR(result->tokens_per_second[i], 8.0 / result->seconds[i], 1e-9 * result->tokens_per_second[i]);
  }
  EXPECT_EQ(result->rate.count, 3);
}

TEST(RunTestCase, PrefillIsOneBatchAndDeepFillsGoInChunks) {
  RecordingBackend backend(50, 2048);
  ScriptedProbe probe({});
  MemoryTracker memory;
  BenchSettings settings;
  settings.repetitions = 2;
  settings.warmup = false;
  std::mt19937_64 rng(1);
  auto result = run_test_case(backend, probe, {TestKind::kPrompt, 16, 1100}, settings, rng, memory);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(backend.batches, repeat({512, 512, 76, 16}, 2));
}

TEST(RunTestCase, LongDecodeWarmsUpWithSixteenSteps) {
  RecordingBackend backend(50, 256);
  ScriptedProbe probe({});
  MemoryTracker memory;
  BenchSettings settings;
  settings.repetitions = 1;
  std::mt19937_64 rng(1);
  ASSERT_TRUE(run_test_case(backend, probe, {TestKind::kGenerate, 100, 0}, settings, rng, memory));
  ASSERT_EQ(backend.batches.size(), 116u);
}

TEST(RunTestCase, RefusesCasesBeyondTheContextBeforeRunningAnything) {
  RecordingBackend backend(50, 100);
  ScriptedProbe probe({});
  MemoryTracker memory;
  BenchSettings settings;
  std::mt19937_64 rng(1);
  auto result = run_test_case(backend, probe, {TestKind::kGenerate, 10, 95}, settings, rng, memory);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(result.error().message.find("tg10 @ d95 needs 105 KV positions; the backend holds 100"),
            std::string::npos)
      << result.error().message;
  EXPECT_TRUE(backend.batches.empty());
}

TEST(MemoryTracker, PeakIsTheLargestReadingOverTheBaseline) {
  ScriptedProbe probe({150, 300, 200});
  MemoryTracker memory;
  memory.set_baseline(100);
  for (int i = 0; i < 3; ++i) memory.sample(probe);
  EXPECT_EQ(memory.peak_used(), 300);
  EXPECT_EQ(memory.peak_delta(), 200);
  MemoryTracker without_device;
  ScriptedProbe none({});
  without_device.sample(none);
  EXPECT_FALSE(without_device.peak_delta());
}

TEST(RunTestCase, RunsOnTheCpuReferenceBackend) {
  const runtime::testing::TinyCpuModel tiny(model::testing::qwen2_spec());
  auto backend = tiny.backend({.threads = 1, .context = 32});
  ASSERT_NE(backend, nullptr);
  auto probe = make_cpu_probe(1);
  MemoryTracker memory;
  BenchSettings settings;
  settings.repetitions = 2;
  std::mt19937_64 rng(3);
  auto result = run_test_case(*backend, *probe, {TestKind::kGenerate, 4, 16}, settings, rng, memory);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(backend->position(), 20);
  EXPECT_GT(result->rate.mean, 0.0);
}

TEST(RunBench, WholeRunFromAFileOnTheCpu) {
  const auto path =
      std::filesystem::temp_directory_path() / ("bench_e2e_tiny_" + std::to_string(::getpid()) + ".gguf");
  const model::testing::TinyModelSpec spec = model::testing::llama_spec();
  ASSERT_TRUE(model::testing::tiny_model_writer(spec).write(path.string()));
  BenchRunOptions options;
  options.model_path = path.string();
  options.backend = "cpu";
  options.threads = 1;
  options.settings.prompt_counts = {8};
  options.settings.generate_counts = {4};
  options.settings.depths = {0, 16};
  options.settings.repetitions = 2;
  std::vector<std::string> progress;
  options.progress = [&](const std::string& line) { progress.push_back(line); };
  auto report = run_bench(options);
  std::filesystem::remove(path);
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->results.size(), 4u);
  EXPECT_EQ(test_name(report->results[3].test), "tg4 @ d16");
  EXPECT_EQ(report->context, 16 + 8 + 4);
  EXPECT_EQ(report->model.architecture, "llama");
  EXPECT_GT(report->model.parameter_count, spec.vocab * spec.embd);
  EXPECT_GT(report->model.file_bytes, 0);
  EXPECT_GT(report->load_seconds, 0.0);
  EXPECT_FALSE(report->peak_memory_bytes);  // no device memory on the CPU
  EXPECT_EQ(progress.size(), 5u);           // load + one line per case
}

TEST(RunBench, MissingFileIsAnIoError) {
  BenchRunOptions options;
  options.model_path = "/nonexistent/model.gguf";
  auto report = run_bench(options);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, ErrorCode::kIoError);
  EXPECT_NE(report.error().message.find("/nonexistent/model.gguf"), std::string::npos);
}

TEST(FileTypeName, UsesLlamaCppsNames) {
  EXPECT_EQ(file_type_name(15), "Q4_K - Medium");
  EXPECT_EQ(file_type_name(7), "Q8_0");
  EXPECT_EQ(file_type_name(0), "all F32");
  EXPECT_EQ(file_type_name(999), "type 999");
}

}  // namespace
}  // namespace llama_worker::bench
