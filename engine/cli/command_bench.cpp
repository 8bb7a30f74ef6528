// `llama-worker bench -m MODEL [-p 512] [-n 128] [-d 0] [-r 5] [--backend cpu|cuda] [--json]`:
// llama-bench's figures (pp<P> prefill and tg<N> decode tokens per second, mean ± sample stddev
// over the repetitions after a warm-up, optionally at a KV depth) plus load time and peak device
// memory. The measuring code is bench/e2e (linked from bench/e2e/CMakeLists.txt); this file only
// maps options onto it. stdout: the markdown table (or JSON with --json); stderr: progress.
// `--parallel 1,4,16,64` measures llama-batched-bench's figures instead (e2e/parallel_bench.hpp):
// -p/-n are then PP/TG (default 128 each), -d and -r are refused.
#include <cstdio>
#include <fstream>
#include <string>

#include "cli/command.hpp"
#include "cli/file_checks.hpp"
#include "cli/model_backend.hpp"
#include "cli/number_options.hpp"
#include "e2e/bench_plan.hpp"
#include "e2e/bench_report.hpp"
#include "e2e/bench_runner.hpp"
#include "e2e/parallel_bench.hpp"

namespace llama_worker::cli {
namespace {

constexpr int kUsageError = 2;
constexpr const char* kEngineVersion = "0.1.0";

struct BenchArguments {
  std::string model;
  std::string prompt_counts = "512";
  std::string generate_counts = "128";
  std::string depths = "0";
  int repetitions = 5;
  bool no_warmup = false;
  uint64_t seed = 1;
  std::string backend = "auto";  // as generate: cuda when a device is present, else cpu
  int threads = 0;
  int device = 0;
  int64_t context = 0;
  bool json = false;
  std::string json_out;
  bool json_out_given = false;  // --json-out "" is a mistake, not "no file"
  std::string parallel;         // stream counts; empty = llama-bench's pp/tg cases
  bool parallel_given = false;
  bool prompt_counts_given = false;
  bool generate_counts_given = false;
  bool depths_given = false;
  bool repetitions_given = false;
};

constexpr const char* kParallelDefaultCount = "128";  // llama-batched-bench's usual -npp / -ntg

int usage_error(const std::string& message) {
  std::fprintf(stderr, "error: %s\nRun 'llama-worker bench --help' for more information.\n", message.c_str());
  return kUsageError;
}

int run_bench_command(const BenchArguments& arguments) {
  bench::BenchRunOptions options;
  const bool parallel = arguments.parallel_given;
  if (parallel) {
    auto streams = bench::parse_stream_list(arguments.parallel);
    if (!streams) return usage_error(streams.error().message);
    options.settings.parallel = std::move(*streams);
    if (arguments.depths_given) return usage_error("-d (KV depth) is not supported with --parallel");
    if (arguments.repetitions_given)
      return usage_error(
          "-r is not supported with --parallel (one timed run per case, as llama-batched-bench)");
  }
  const std::string prompt_counts =
      parallel && !arguments.prompt_counts_given ? kParallelDefaultCount : arguments.prompt_counts;
  const std::string generate_counts =
      parallel && !arguments.generate_counts_given ? kParallelDefaultCount : arguments.generate_counts;
  const std::pair<const std::string*, std::vector<int64_t>*> lists[] = {
      {&prompt_counts, &options.settings.prompt_counts},
      {&generate_counts, &options.settings.generate_counts},
      {&arguments.depths, &options.settings.depths},
  };
  const char* flags[] = {"-p", "-n", "-d"};
  for (size_t i = 0; i < 3; ++i) {
    auto counts = bench::parse_count_list(*lists[i].first, flags[i]);
    if (!counts) return usage_error(counts.error().message);
    *lists[i].second = std::move(*counts);
    if (parallel && i < 2) {
      for (const int64_t count : *lists[i].second) {
        if (count < 1)
          return usage_error(std::string(flags[i]) + ": 0 is not allowed with --parallel (at least 1 token)");
      }
    }
  }
  // The files first: minutes of measuring must not end in "cannot write".
  if (auto usable = check_model_path(arguments.model); !usable) return report_error("bench", usable.error());
  std::ofstream json_file;
  if (!arguments.json_out.empty() || arguments.json_out_given) {
    if (auto writable = check_output_file(arguments.json_out, "--json-out"); !writable) {
      return report_error("bench", writable.error());
    }
    json_file.open(arguments.json_out, std::ios::trunc);
    if (!json_file) {
      return report_error(
          "bench", make_error(ErrorCode::kIoError, "cannot open --json-out '" + arguments.json_out + "'"));
    }
  }
  options.model_path = arguments.model;
  BackendOptions backend;
  backend.backend = arguments.backend;
  options.backend = resolved_backend(backend);
  if (options.backend == "cuda") {
    if (auto usable = check_cuda_device_usable(arguments.device); !usable)
      return report_error("bench", usable.error());
  }
  options.threads = arguments.threads;
  options.device = arguments.device;
  options.context = arguments.context;
  options.settings.repetitions = arguments.repetitions;
  options.settings.warmup = !arguments.no_warmup;
  options.settings.seed = arguments.seed;
  options.progress = [](const std::string& line) { std::fprintf(stderr, "bench: %s\n", line.c_str()); };

  auto report = bench::run_bench(options);
  if (!report) return report_error("bench", report.error());
  const std::string json = bench::format_json(*report, kEngineVersion, bench::utc_timestamp_now());
  if (json_file.is_open()) {
    json_file << json;
    json_file.close();
    if (!json_file)
      return report_error("bench",
                          make_error(ErrorCode::kIoError, "cannot write '" + arguments.json_out + "'"));
  }
  const std::string text = arguments.json ? json : bench::format_markdown(*report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& parent) {
  auto arguments = std::make_shared<BenchArguments>();
  Command command;
  CLI::App* app = parent.add_subcommand(
      "bench", "Measure prefill, decode and load speed (llama-bench compatible figures)");
  app->add_option("-m,--model", arguments->model, "GGUF model file")->required();
  app->add_option("-p,--n-prompt", arguments->prompt_counts,
                  "Prompt lengths to prefill (comma list; 0 = none); with --parallel: PP, default 128")
      ->capture_default_str();
  app->add_option("-n,--n-gen", arguments->generate_counts,
                  "Tokens to generate one at a time (comma list; 0 = none); with --parallel: TG, default 128")
      ->capture_default_str();
  app->add_option("-d,--n-depth", arguments->depths,
                  "KV cache depths filled before each test, untimed (comma list)")
      ->capture_default_str();
  add_whole_number_option(*app, "-r,--repetitions", arguments->repetitions, "Timed runs per test", 1, 1000);
  app->add_flag("--no-warmup", arguments->no_warmup, "Skip the untimed warm-up run of each test");
  add_whole_number_option(*app, "--seed", arguments->seed, "Seed of the random token ids", uint64_t{0});
  app->add_option("--backend", arguments->backend,
                  "Backend: auto (cuda when a device is present, else cpu), cpu (reference) or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  add_whole_number_option(*app, "--threads", arguments->threads, "CPU backend worker threads (0 = all cores)",
                          0, kMaxThreads);
  add_whole_number_option(*app, "--device", arguments->device, "CUDA device index", 0);
  add_whole_number_option(*app, "--ctx", arguments->context,
                          "KV cache positions (0 = depth + prompt + generated, as llama-bench)", int64_t{0});
  app->add_flag("--json", arguments->json, "Print one JSON record instead of the markdown table");
  app->add_option("--json-out", arguments->json_out, "Also write the JSON record to this file");
  app->add_option("--parallel", arguments->parallel,
                  "Stream counts served at once through the scheduler (comma list, each 1 to 256): "
                  "llama-batched-bench's figures for -p PP x -n TG x each count, instead of pp/tg");
  command.app = app;
  command.run = [arguments, app] {
    arguments->json_out_given = app->count("--json-out") > 0;
    arguments->parallel_given = app->count("--parallel") > 0;
    arguments->prompt_counts_given = app->count("-p") > 0;
    arguments->generate_counts_given = app->count("-n") > 0;
    arguments->depths_given = app->count("-d") > 0;
    arguments->repetitions_given = app->count("-r") > 0;
    return run_bench_command(*arguments);
  };
  return command;
}

}  // namespace llama_worker::cli
