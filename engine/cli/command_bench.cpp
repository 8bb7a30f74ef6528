// `llama-worker bench -m MODEL [-p 512] [-n 128] [-d 0] [-r 5] [--backend cpu|cuda] [--json]`:
// llama-bench's figures (pp<P> prefill and tg<N> decode tokens per second, mean ± sample stddev
// over the repetitions after a warm-up, optionally at a KV depth) plus load time and peak device
// memory. The measuring code is bench/e2e (linked from bench/e2e/CMakeLists.txt); this file only
// maps options onto it. stdout: the markdown table (or JSON with --json); stderr: progress.
#include <cstdio>
#include <fstream>
#include <string>

#include "cli/command.hpp"
#include "e2e/bench_plan.hpp"
#include "e2e/bench_report.hpp"
#include "e2e/bench_runner.hpp"

namespace llama_worker::cli {
namespace {

constexpr int kUsageError = 2;
constexpr const char* kEngineVersion = "0.1.0";

#ifdef LLAMA_WORKER_HAS_CUDA_BACKEND
constexpr const char* kDefaultBackend = "cuda";
#else
constexpr const char* kDefaultBackend = "cpu";
#endif

struct BenchArguments {
  std::string model;
  std::string prompt_counts = "512";
  std::string generate_counts = "128";
  std::string depths = "0";
  int repetitions = 5;
  bool no_warmup = false;
  uint64_t seed = 1;
  std::string backend = kDefaultBackend;
  int threads = 0;
  int device = 0;
  int64_t context = 0;
  bool json = false;
  std::string json_out;
};

int run_bench_command(const BenchArguments& arguments) {
  bench::BenchRunOptions options;
  const std::pair<const std::string*, std::vector<int64_t>*> lists[] = {
      {&arguments.prompt_counts, &options.settings.prompt_counts},
      {&arguments.generate_counts, &options.settings.generate_counts},
      {&arguments.depths, &options.settings.depths},
  };
  const char* flags[] = {"-p", "-n", "-d"};
  for (size_t i = 0; i < 3; ++i) {
    auto counts = bench::parse_count_list(*lists[i].first, flags[i]);
    if (!counts) {
      std::fprintf(stderr, "error: %s\nRun 'llama-worker bench --help' for more information.\n", counts.error().message.c_str());
      return kUsageError;
    }
    *lists[i].second = std::move(*counts);
  }
  options.model_path = arguments.model;
  options.backend = arguments.backend;
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
  if (!arguments.json_out.empty()) {
    std::ofstream out(arguments.json_out, std::ios::trunc);
    out << json;
    out.close();
    if (!out) return report_error("bench", make_error(ErrorCode::kIoError, "cannot write '" + arguments.json_out + "'"));
  }
  const std::string text = arguments.json ? json : bench::format_markdown(*report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& parent) {
  auto arguments = std::make_shared<BenchArguments>();
  Command command;
  CLI::App* app = parent.add_subcommand("bench", "Measure prefill, decode and load speed (llama-bench compatible figures)");
  app->add_option("-m,--model", arguments->model, "GGUF model file")->required();
  app->add_option("-p,--n-prompt", arguments->prompt_counts, "Prompt lengths to prefill (comma list; 0 = none)")
      ->capture_default_str();
  app->add_option("-n,--n-gen", arguments->generate_counts, "Tokens to generate one at a time (comma list; 0 = none)")
      ->capture_default_str();
  app->add_option("-d,--n-depth", arguments->depths, "KV cache depths filled before each test, untimed (comma list)")
      ->capture_default_str();
  app->add_option("-r,--repetitions", arguments->repetitions, "Timed runs per test")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app->add_flag("--no-warmup", arguments->no_warmup, "Skip the untimed warm-up run of each test");
  app->add_option("--seed", arguments->seed, "Seed of the random token ids")->capture_default_str();
  app->add_option("--backend", arguments->backend, "Backend: cpu (reference) or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app->add_option("--threads", arguments->threads, "CPU backend worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  app->add_option("--device", arguments->device, "CUDA device index")->check(CLI::NonNegativeNumber);
  app->add_option("--ctx", arguments->context, "KV cache positions (0 = depth + prompt + generated, as llama-bench)")
      ->check(CLI::NonNegativeNumber);
  app->add_flag("--json", arguments->json, "Print one JSON record instead of the markdown table");
  app->add_option("--json-out", arguments->json_out, "Also write the JSON record to this file");
  command.app = app;
  command.run = [arguments] { return run_bench_command(*arguments); };
  return command;
}

}  // namespace llama_worker::cli
