// The bench loop (see bench_runner.hpp for what is timed and how).
#include "e2e/bench_runner.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>

#include "gguf/file.hpp"
#include "model/config.hpp"
#include "runtime/batched_backend.hpp"
#include "runtime/cpu_backend.hpp"
#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
#include "runtime/cuda/cuda_backend.hpp"
#endif

namespace llama_worker::bench {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kFillChunk = 512;      // depth is filled in prompt batches of this many tokens
constexpr int64_t kGenerateWarmup = 16;  // decode steps of a tg warm-up (graph capture + replays)
constexpr size_t kReadChunk = size_t{16} << 20;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<int32_t> random_tokens(int64_t count, int64_t vocab, std::mt19937_64& rng) {
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> ids(static_cast<size_t>(count));
  for (int32_t& id : ids) id = pick(rng);
  return ids;
}

// Empties the cache and fills `depth` positions with random tokens (untimed).
Status fill_depth(runtime::InferenceBackend& backend, int64_t depth, std::mt19937_64& rng,
                  std::vector<float>& logits) {
  backend.reset();
  const int64_t vocab = backend.config().vocab_size;
  for (int64_t done = 0; done < depth; done += kFillChunk) {
    const std::vector<int32_t> ids = random_tokens(std::min(kFillChunk, depth - done), vocab, rng);
    LW_TRY(backend.forward(ids, runtime::LogitsMode::kLastPosition, logits));
  }
  return Status::ok();
}

// One run of `tokens` tokens of the test's kind after filling the depth; returns the timed seconds.
Result<double> run_once(runtime::InferenceBackend& backend, DeviceProbe& probe, const TestCase& test,
                        int64_t tokens, std::mt19937_64& rng, MemoryTracker& memory) {
  std::vector<float> logits;
  LW_TRY(fill_depth(backend, test.depth, rng, logits));
  const std::vector<int32_t> ids = random_tokens(tokens, backend.config().vocab_size, rng);
  LW_TRY(probe.synchronize());
  const Clock::time_point start = Clock::now();
  if (test.kind == TestKind::kPrompt) {
    LW_TRY(backend.forward(ids, runtime::LogitsMode::kLastPosition, logits));
  } else {
    for (const int32_t& id : ids) {
      LW_TRY(backend.forward(std::span<const int32_t>(&id, 1), runtime::LogitsMode::kLastPosition, logits));
    }
  }
  LW_TRY(probe.synchronize());
  const double seconds = seconds_since(start);
  memory.sample(probe);
  return seconds;
}

// Reads the whole file once so that load times measure a file already in the page cache.
Status warm_page_cache(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIoError, "cannot open '" + path + "' for reading");
  std::vector<char> buffer(kReadChunk);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
  }
  if (in.bad()) return make_error(ErrorCode::kIoError, "read error in '" + path + "'");
  return Status::ok();
}

ModelSummary summarize_model(const gguf::File& file, const model::ModelConfig& config) {
  ModelSummary summary;
  summary.path = file.path();
  summary.architecture = config.architecture;
  summary.name = config.name;
  std::error_code error;
  const auto size = std::filesystem::file_size(file.path(), error);
  summary.file_bytes = error ? 0 : static_cast<int64_t>(size);
  for (const gguf::TensorInfo& tensor : file.tensors()) summary.parameter_count += tensor.element_count();
  auto type = file.get<uint32_t>("general.file_type");
  summary.file_type = type ? file_type_name(*type) : "unknown type";
  return summary;
}

Result<std::unique_ptr<runtime::InferenceBackend>> create_backend(const gguf::File& file,
                                                                  const BenchRunOptions& options,
                                                                  int64_t context) {
  if (options.backend == "cuda") {
#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
    runtime::cuda::CudaBackendOptions cuda;
    cuda.device = options.device;
    cuda.context = context;
    LW_ASSIGN_OR_RETURN(auto backend, runtime::cuda::CudaBackend::create(file, cuda));
    return std::unique_ptr<runtime::InferenceBackend>(std::move(backend));
#else
    return make_error(
        ErrorCode::kUnsupported,
        "backend 'cuda' is not available: llama-worker was built without CUDA (no nvcc at configure time)");
#endif
  }
  if (options.backend != "cpu") {
    return make_error(ErrorCode::kInvalidArgument, "unknown backend '" + options.backend + "' (cpu or cuda)");
  }
  runtime::CpuBackendOptions cpu;
  cpu.threads = options.threads;
  cpu.context = context;
  LW_ASSIGN_OR_RETURN(auto backend, runtime::CpuBackend::create(file, cpu));
  return std::unique_ptr<runtime::InferenceBackend>(std::move(backend));
}

}  // namespace

void MemoryTracker::sample(DeviceProbe& probe) {
  const std::optional<int64_t> used = probe.used_bytes();
  if (!used) return;
  peak_ = peak_ ? std::max(*peak_, *used) : *used;
}

std::optional<int64_t> MemoryTracker::peak_delta() const {
  if (!baseline_ || !peak_) return std::nullopt;
  return std::max<int64_t>(0, *peak_ - *baseline_);
}

Result<TestResult> run_test_case(runtime::InferenceBackend& backend, DeviceProbe& probe, const TestCase& test,
                                 const BenchSettings& settings, std::mt19937_64& rng, MemoryTracker& memory) {
  const int64_t needed = test.depth + test.tokens;
  if (needed > backend.context_capacity()) {
    return make_error(ErrorCode::kOutOfRange, test_name(test) + " needs " + std::to_string(needed) +
                                                  " KV positions; the backend holds " +
                                                  std::to_string(backend.context_capacity()) +
                                                  " (see --ctx)");
  }
  if (test.tokens <= 0 || settings.repetitions < 1) {
    return make_error(ErrorCode::kInvalidArgument, "a test needs at least one token and one repetition");
  }
  if (settings.warmup) {
    const int64_t warmup_tokens =
        test.kind == TestKind::kPrompt ? test.tokens : std::min(test.tokens, kGenerateWarmup);
    LW_TRY(run_once(backend, probe, test, warmup_tokens, rng, memory).status());
  }
  TestResult result;
  result.test = test;
  for (int r = 0; r < settings.repetitions; ++r) {
    LW_ASSIGN_OR_RETURN(const double seconds, run_once(backend, probe, test, test.tokens, rng, memory));
    result.seconds.push_back(seconds);
    result.tokens_per_second.push_back(seconds > 0 ? static_cast<double>(test.tokens) / seconds : 0.0);
  }
  result.rate = summarize(result.tokens_per_second);
  return result;
}

std::string file_type_name(uint32_t file_type) {
  switch (file_type) {
    case 0:
      return "all F32";
    case 1:
      return "F16";
    case 2:
      return "Q4_0";
    case 3:
      return "Q4_1";
    case 7:
      return "Q8_0";
    case 8:
      return "Q5_0";
    case 9:
      return "Q5_1";
    case 10:
      return "Q2_K - Medium";
    case 11:
      return "Q3_K - Small";
    case 12:
      return "Q3_K - Medium";
    case 13:
      return "Q3_K - Large";
    case 14:
      return "Q4_K - Small";
    case 15:
      return "Q4_K - Medium";
    case 16:
      return "Q5_K - Small";
    case 17:
      return "Q5_K - Medium";
    case 18:
      return "Q6_K";
    case 21:
      return "Q2_K - Small";
    case 32:
      return "BF16";
    default:
      return "type " + std::to_string(file_type);
  }
}

namespace {

// --parallel's cases in llama-batched-bench's nesting (every PP, every TG, every N), or an error
// for settings that have no meaning there.
Result<std::vector<ParallelCase>> make_parallel_cases(const BenchSettings& settings) {
  for (const int64_t depth : settings.depths) {
    if (depth != 0)
      return make_error(ErrorCode::kInvalidArgument, "-d (KV depth) is not supported with --parallel");
  }
  std::vector<ParallelCase> cases;
  for (const int64_t prompt : settings.prompt_counts) {
    for (const int64_t generate : settings.generate_counts) {
      if (prompt < 1 || generate < 1) {
        return make_error(ErrorCode::kInvalidArgument,
                          "with --parallel every -p and -n value must be at least 1 (a stream needs a prompt "
                          "and a token to generate)");
      }
      for (const int64_t streams : settings.parallel) cases.push_back({prompt, generate, streams});
    }
  }
  return cases;
}

}  // namespace

Result<BenchReport> run_bench(const BenchRunOptions& options) {
  const auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  const bool parallel = !options.settings.parallel.empty();
  std::vector<TestCase> cases;
  std::vector<ParallelCase> parallel_cases;
  if (parallel) {
    LW_ASSIGN_OR_RETURN(parallel_cases, make_parallel_cases(options.settings));
  } else {
    LW_ASSIGN_OR_RETURN(cases, make_test_cases(options.settings));
  }

  std::unique_ptr<DeviceProbe> probe;
  if (options.backend == "cuda") {
    LW_ASSIGN_OR_RETURN(probe, make_cuda_probe(options.device));
  } else {
    probe = make_cpu_probe(options.threads);
  }
  BenchReport report;
  report.backend = options.backend;
  report.settings = options.settings;
  report.threads = options.backend == "cpu" ? options.threads : 0;

  const Clock::time_point init_start = Clock::now();
  LW_TRY(probe->initialize());
  report.device_init_seconds = seconds_since(init_start);
  report.device_name = probe->name();
  report.device_total_bytes = probe->total_bytes();
  MemoryTracker memory;
  memory.set_baseline(probe->used_bytes());

  LW_TRY(warm_page_cache(options.model_path));
  say("loading " + options.model_path + " on " + report.device_name);
  const Clock::time_point load_start = Clock::now();
  LW_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(options.model_path));
  LW_ASSIGN_OR_RETURN(const model::ModelConfig config, model::load_model_config(file));
  const int64_t context = options.context > 0
                              ? options.context
                              : std::min(required_context(options.settings), config.context_length);
  LW_ASSIGN_OR_RETURN(std::unique_ptr<runtime::InferenceBackend> backend,
                      create_backend(file, options, context));
  LW_TRY(probe->synchronize());
  report.load_seconds = seconds_since(load_start);
  memory.sample(*probe);
  if (memory.baseline() && memory.peak_used())
    report.memory_after_load_bytes = *memory.peak_used() - *memory.baseline();
  report.model = summarize_model(file, config);
  report.context = backend->context_capacity();

  std::mt19937_64 rng(options.settings.seed);
  for (const TestCase& test : cases) {
    say("running " + test_name(test) + " (" + std::to_string(options.settings.repetitions) + " repetitions)");
    auto result = run_test_case(*backend, *probe, test, options.settings, rng, memory);
    if (!result) return make_error(result.error().code, test_name(test) + ": " + result.error().message);
    report.results.push_back(std::move(*result));
  }
  if (parallel) {
    auto* batched = dynamic_cast<runtime::BatchedInferenceBackend*>(backend.get());
    if (batched == nullptr) {
      return make_error(ErrorCode::kUnsupported,
                        "backend " + options.backend + " does not serve --parallel (no batched forward)");
    }
    for (const ParallelCase& test : parallel_cases) {
      const std::string name = "pp" + std::to_string(test.prompt_tokens) + " tg" +
                               std::to_string(test.generate_tokens) + " x" + std::to_string(test.streams);
      say("running " + name + " (" + std::to_string(test.streams) + " streams)");
      auto result = run_parallel_case(*batched, *probe, test, options.settings.warmup, rng);
      if (!result) return make_error(result.error().code, name + ": " + result.error().message);
      memory.sample(*probe);
      report.parallel_results.push_back(*result);
    }
  }
  report.peak_memory_bytes = memory.peak_delta();
  return report;
}

}  // namespace llama_worker::bench
