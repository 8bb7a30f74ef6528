// Runs a bench: load a model on a backend (timed, file already in the page cache), then each test
// case (bench_plan.hpp) with one untimed warm-up and `repetitions` timed runs.
//
// Timing: host steady_clock around the timed part, with the device synchronised before the start
// and after the end (DeviceProbe::synchronize), so every timed interval covers finished work.
// Random token ids are drawn before the clock starts. Device memory is sampled after load and
// after every run (never inside the timed part): the peak is reported as a delta over the
// baseline taken after the device context was created.
//
// Load = gguf::File::open + backend creation (weights on the device, KV cache and scratch
// allocated) + synchronisation; CUDA context creation is measured separately (device_init).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "e2e/bench_plan.hpp"
#include "e2e/device_probe.hpp"
#include "e2e/parallel_bench.hpp"
#include "e2e/statistics.hpp"
#include "runtime/backend.hpp"

namespace llama_worker::bench {

struct TestResult {
  TestCase test;
  std::vector<double> seconds;            // (repetitions) timed wall time of each run
  std::vector<double> tokens_per_second;  // (repetitions) test.tokens / seconds
  SampleSummary rate;                     // of tokens_per_second
};

// Largest device-wide memory use seen, relative to a baseline.
class MemoryTracker {
 public:
  void set_baseline(std::optional<int64_t> used) { baseline_ = used; }
  void sample(DeviceProbe& probe);
  std::optional<int64_t> baseline() const { return baseline_; }
  std::optional<int64_t> peak_used() const { return peak_; }
  // peak_used - baseline: what the bench's own process added (nullopt without device memory).
  std::optional<int64_t> peak_delta() const;

 private:
  std::optional<int64_t> baseline_, peak_;
};

// One case on a loaded backend. kOutOfRange when depth + tokens exceed the backend's context.
Result<TestResult> run_test_case(runtime::InferenceBackend& backend, DeviceProbe& probe, const TestCase& test,
                                 const BenchSettings& settings, std::mt19937_64& rng, MemoryTracker& memory);

struct BenchRunOptions {
  std::string model_path;
  std::string backend = "cpu";  // cpu | cuda
  int threads = 0;              // CPU backend workers; 0 = all cores
  int device = 0;               // CUDA device index
  int64_t context = 0;          // KV positions; 0 = required_context(settings), capped at the model's
  BenchSettings settings;
  std::function<void(const std::string&)> progress;  // one line per step, may be empty
};

struct ModelSummary {
  std::string path;
  std::string architecture;  // general.architecture
  std::string name;          // general.name or the file name
  std::string file_type;     // "Q4_K - Medium" (llama.cpp's name for general.file_type)
  int64_t file_bytes = 0;
  int64_t parameter_count = 0;  // sum of tensor element counts
};

struct BenchReport {
  ModelSummary model;
  std::string backend;  // cpu | cuda
  std::string device_name;
  int threads = 0;      // CPU backend only
  int64_t context = 0;  // KV positions the backend holds
  BenchSettings settings;
  double device_init_seconds = 0;  // CUDA context creation (0 on the CPU)
  double load_seconds = 0;         // file in page cache -> ready to run
  std::optional<int64_t> device_total_bytes;
  std::optional<int64_t> memory_after_load_bytes;  // delta over the baseline
  std::optional<int64_t> peak_memory_bytes;        // delta over the baseline, over the whole run
  std::vector<TestResult> results;
  std::vector<ParallelResult> parallel_results;  // --parallel: one per (PP, TG, N), in run order
};

// llama.cpp's name of a general.file_type value ("Q4_K - Medium"); "type N" when unknown.
std::string file_type_name(uint32_t file_type);

Result<BenchReport> run_bench(const BenchRunOptions& options);

}  // namespace llama_worker::bench
