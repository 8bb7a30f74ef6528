// Markdown and JSON renderings of a BenchReport (see bench_report.hpp).
#include "e2e/bench_report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <vector>

namespace llama_worker::bench {

namespace {

std::string printf_string(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string size_text(int64_t bytes) {
  const double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
  return mib >= 1024.0 ? printf_string("%.2f GiB", mib / 1024.0) : printf_string("%.2f MiB", mib);
}

std::string parameter_text(int64_t count) {
  const double value = static_cast<double>(count);
  if (value >= 1e9) return printf_string("%.2f B", value / 1e9);
  if (value >= 1e6) return printf_string("%.2f M", value / 1e6);
  return printf_string("%.2f K", value / 1e3);
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// Pads every cell to its column's width; `right` marks right-aligned columns.
std::string markdown_table(const std::vector<std::string>& header, const std::vector<bool>& right,
                           const std::vector<std::vector<std::string>>& rows) {
  // "±" is two bytes but one column: widths count code points, not bytes.
  const auto columns = [](const std::string& text) {
    size_t n = 0;
    for (const unsigned char c : text) n += (c & 0xC0) != 0x80;
    return n;
  };
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = std::max<size_t>(3, columns(header[c]));  // room for "--:" under a one-letter header
    for (const auto& row : rows) width[c] = std::max(width[c], columns(row[c]));
  }
  // Built with append(): GCC 12 warns falsely (-Wrestrict) on `" " + std::string(...)`.
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (size_t c = 0; c < cells.size(); ++c) {
      const size_t pad = width[c] - columns(cells[c]);
      out.append(1, ' ');
      if (right[c]) out.append(pad, ' ');
      out.append(cells[c]);
      if (!right[c]) out.append(pad, ' ');
      out.append(" |");
    }
    out.append(1, '\n');
    return out;
  };
  std::string out = line(header);
  out.append(1, '|');
  for (size_t c = 0; c < header.size(); ++c) {
    out.append(1, ' ');
    out.append(width[c] - (right[c] ? 1 : 0), '-');
    if (right[c]) out.append(1, ':');
    out.append(" |");
  }
  out.append(1, '\n');
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string mib_text(int64_t bytes) {
  return printf_string("%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

// llama-batched-bench's table (PP, TG, B, N_KV, T_PP s, S_PP t/s, T_TG s, S_TG t/s, T s, S t/s)
// plus the per-stream decode rate, the scheduler's steps and its KV pool.
std::string parallel_markdown(const BenchReport& report) {
  std::vector<std::vector<std::string>> rows;
  for (const ParallelResult& result : report.parallel_results) {
    rows.push_back({std::to_string(result.test.prompt_tokens), std::to_string(result.test.generate_tokens),
                    std::to_string(result.test.streams), std::to_string(result.kv_positions()),
                    printf_string("%.3f", result.prefill_seconds),
                    printf_string("%.2f", result.prefill_rate()),
                    printf_string("%.3f", result.decode_seconds), printf_string("%.2f", result.decode_rate()),
                    printf_string("%.2f", result.decode_rate_per_stream()),
                    printf_string("%.3f", result.total_seconds()), printf_string("%.2f", result.total_rate()),
                    std::to_string(result.steps), mib_text(result.kv_pool_bytes)});
  }
  std::string out = "model: " + report.model.architecture + " " + report.model.file_type + ", " +
                    size_text(report.model.file_bytes) + ", " + parameter_text(report.model.parameter_count) +
                    " params, backend " + upper(report.backend) + "\n\n";
  out += markdown_table({"PP", "TG", "B", "N_KV", "T_PP s", "S_PP t/s", "T_TG s", "S_TG t/s", "S_TG/B t/s",
                         "T s", "S t/s", "steps", "KV pool"},
                        std::vector<bool>(13, true), rows);
  return out;
}

}  // namespace

std::string format_markdown(const BenchReport& report) {
  if (!report.parallel_results.empty()) {
    std::string out = parallel_markdown(report);
    out += "\n";
    out += "device: " + report.device_name + ", KV cache " + std::to_string(report.context) +
           " positions per stream, one timed run per case" +
           (report.settings.warmup ? " after a warm-up" : "") + "\n";
    out += "load: " + printf_string("%.3f s", report.load_seconds) + " (file in page cache -> ready)\n";
    if (report.peak_memory_bytes) out += "device memory: peak " + mib_text(*report.peak_memory_bytes) + "\n";
    for (const ParallelResult& result : report.parallel_results) {
      if (result.kv_pool_measured_bytes == 0) continue;
      const int64_t positions = result.kv_pool_blocks * result.kv_block_positions;
      const double kib_per_position =
          static_cast<double>(result.kv_pool_bytes) / static_cast<double>(positions) / 1024.0;
      out += "KV pool of " + std::to_string(result.test.streams) + " streams: planned " +
             mib_text(result.kv_pool_bytes) + ", measured " + mib_text(result.kv_pool_measured_bytes) +
             " (free device memory before and after its allocation); " +
             printf_string("%.1f KiB", kib_per_position) + " per position, " +
             mib_text(result.kv_pool_bytes / positions * 4096) + " per 4,096-token sequence\n";
    }
    return out;
  }
  std::vector<std::vector<std::string>> rows;
  const std::string model = report.model.architecture + " " + report.model.file_type;
  for (const TestResult& result : report.results) {
    rows.push_back(
        {model, size_text(report.model.file_bytes), parameter_text(report.model.parameter_count),
         upper(report.backend), test_name(result.test),
         printf_string("%.2f", result.rate.mean) + " ± " + printf_string("%.2f", result.rate.stddev)});
  }
  std::string out = markdown_table({"model", "size", "params", "backend", "test", "t/s"},
                                   {false, true, true, false, true, true}, rows);
  out += "\n";
  out += "device: " + report.device_name + ", KV cache " + std::to_string(report.context) + " positions, " +
         std::to_string(report.settings.repetitions) + " repetitions" +
         (report.settings.warmup ? " after a warm-up" : "") + "\n";
  out += "load: " + printf_string("%.3f s", report.load_seconds) + " (file in page cache -> ready)";
  if (report.backend == "cuda")
    out += ", CUDA context creation " + printf_string("%.3f s", report.device_init_seconds) + " not included";
  out += "\n";
  if (report.peak_memory_bytes) {
    out += "device memory: " +
           (report.memory_after_load_bytes ? mib_text(*report.memory_after_load_bytes) : "?") +
           " after load, peak " + mib_text(*report.peak_memory_bytes) +
           " (cudaMemGetInfo, over the baseline after context creation)\n";
  }
  return out;
}

std::string format_json(const BenchReport& report, const std::string& engine_version,
                        const std::string& date) {
  using nlohmann::json;
  const auto optional_bytes = [](const std::optional<int64_t>& value) {
    return value ? json(*value) : json(nullptr);
  };
  json tests = json::array();
  for (const TestResult& result : report.results) {
    std::vector<int64_t> samples_ns;
    for (const double s : result.seconds) samples_ns.push_back(static_cast<int64_t>(s * 1e9 + 0.5));
    const SampleSummary ns = summarize(std::vector<double>(samples_ns.begin(), samples_ns.end()));
    const bool prompt = result.test.kind == TestKind::kPrompt;
    tests.push_back({
        {"name", test_name(result.test)},
        {"n_prompt", prompt ? result.test.tokens : 0},
        {"n_gen", prompt ? 0 : result.test.tokens},
        {"n_depth", result.test.depth},
        {"avg_ts", result.rate.mean},
        {"stddev_ts", result.rate.stddev},
        {"median_ts", result.rate.median},
        {"min_ts", result.rate.min},
        {"max_ts", result.rate.max},
        {"samples_ts", result.tokens_per_second},
        {"avg_ns", ns.mean},
        {"stddev_ns", ns.stddev},
        {"samples_ns", samples_ns},
    });
  }
  // llama-batched-bench's jsonl names (pp, tg, pl, n_kv, t_pp, speed_pp, t_tg, speed_tg, t, speed)
  // plus ours (speed_tg_per_stream, steps, kv_pool_*).
  json parallel = json::array();
  for (const ParallelResult& result : report.parallel_results) {
    parallel.push_back({
        {"pp", result.test.prompt_tokens},
        {"tg", result.test.generate_tokens},
        {"pl", result.test.streams},
        {"n_kv", result.kv_positions()},
        {"t_pp", result.prefill_seconds},
        {"speed_pp", result.prefill_rate()},
        {"t_tg", result.decode_seconds},
        {"speed_tg", result.decode_rate()},
        {"speed_tg_per_stream", result.decode_rate_per_stream()},
        {"t", result.total_seconds()},
        {"speed", result.total_rate()},
        {"steps", result.steps},
        {"kv_pool_blocks", result.kv_pool_blocks},
        {"kv_block_positions", result.kv_block_positions},
        {"kv_pool_bytes", result.kv_pool_bytes},
        {"kv_pool_measured_bytes", result.kv_pool_measured_bytes},
    });
  }
  json record = {
      {"engine", "llama-worker"},
      {"engine_version", engine_version},
      {"date", date},
      {"model",
       {{"path", report.model.path},
        {"architecture", report.model.architecture},
        {"name", report.model.name},
        {"file_type", report.model.file_type},
        {"file_bytes", report.model.file_bytes},
        {"parameter_count", report.model.parameter_count}}},
      {"backend", report.backend},
      {"device", report.device_name},
      {"threads", report.threads},
      {"context", report.context},
      {"repetitions", report.settings.repetitions},
      {"warmup", report.settings.warmup},
      {"seed", report.settings.seed},
      {"device_init_seconds", report.device_init_seconds},
      {"load_seconds", report.load_seconds},
      {"device_total_bytes", optional_bytes(report.device_total_bytes)},
      {"memory_after_load_bytes", optional_bytes(report.memory_after_load_bytes)},
      {"peak_memory_bytes", optional_bytes(report.peak_memory_bytes)},
      {"tests", tests},
      {"parallel", parallel},
  };
  return record.dump(2) + "\n";
}

std::string utc_timestamp_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

}  // namespace llama_worker::bench
