// The markdown table (llama-bench's layout) and the JSON record (llama-bench's field names).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e/bench_report.hpp"

namespace llama_worker::bench {
namespace {

BenchReport sample_report() {
  BenchReport report;
  report.model.path = "models/qwen.gguf";
  report.model.architecture = "qwen2";
  report.model.name = "Qwen2.5 0.5B";
  report.model.file_type = "Q4_K - Medium";
  report.model.file_bytes = 397804576;
  report.model.parameter_count = 630167424;
  report.backend = "cuda";
  report.device_name = "NVIDIA H100 80GB HBM3";
  report.context = 3000 + 512 + 128;
  report.settings.repetitions = 2;
  report.load_seconds = 0.25;
  report.device_init_seconds = 0.125;
  report.memory_after_load_bytes = int64_t{512} << 20;
  report.peak_memory_bytes = int64_t{600} << 20;
  TestResult decode;
  decode.test = {TestKind::kGenerate, 128, 2048};
  decode.seconds = {0.16, 0.16};
  decode.tokens_per_second = {800.0, 800.0};
  decode.rate = summarize(decode.tokens_per_second);
  TestResult prefill;
  prefill.test = {TestKind::kPrompt, 512, 0};
  prefill.seconds = {0.01, 0.0125};
  prefill.tokens_per_second = {51200.0, 40960.0};
  prefill.rate = summarize(prefill.tokens_per_second);
  report.results = {prefill, decode};
  return report;
}

TEST(FormatMarkdown, LlamaBenchLayout) {
  const std::string text = format_markdown(sample_report());
  EXPECT_NE(text.find("| model "), std::string::npos) << text;
  EXPECT_NE(
      text.find(
          "| qwen2 Q4_K - Medium | 379.38 MiB | 630.17 M | CUDA    |         pp512 | 46080.00 ± 7240.77 |"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("| tg128 @ d2048 |      800.00 ± 0.00 |"), std::string::npos) << text;
  EXPECT_NE(text.find("load: 0.250 s"), std::string::npos) << text;
  EXPECT_NE(text.find("peak 600.0 MiB"), std::string::npos) << text;
}

TEST(FormatMarkdown, RowsLineUp) {
  const std::string text = format_markdown(sample_report());
  // The header, the separator and both rows have their bars at the same columns.
  std::vector<std::string> lines;
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  const auto bars = [](const std::string& line) {
    std::vector<size_t> at;
    size_t column = 0;
    for (const unsigned char c : line) {
      if ((c & 0xC0) == 0x80) continue;
      if (c == '|') at.push_back(column);
      ++column;
    }
    return at;
  };
  for (int i = 1; i < 4; ++i) EXPECT_EQ(bars(lines[i]), bars(lines[0])) << lines[i];
}

TEST(FormatJson, CarriesLlamaBenchFieldNames) {
  const auto record = nlohmann::json::parse(format_json(sample_report(), "0.1.0", "2026-11-26T21:00:00Z"));
  EXPECT_EQ(record["engine"], "llama-worker");
  EXPECT_EQ(record["date"], "2026-11-26T21:00:00Z");
  EXPECT_EQ(record["model"]["file_bytes"], 397804576);
  EXPECT_EQ(record["peak_memory_bytes"], int64_t{600} << 20);
  ASSERT_EQ(record["tests"].size(), 2u);
  const auto& decode = record["tests"][1];
  EXPECT_EQ(decode["name"], "tg128 @ d2048");
  EXPECT_EQ(decode["n_prompt"], 0);
  EXPECT_EQ(decode["n_gen"], 128);
  EXPECT_EQ(decode["n_depth"], 2048);
  EXPECT_DOUBLE_EQ(decode["avg_ts"].get<double>(), 800.0);
  EXPECT_EQ(decode["samples_ns"][0], 160000000);
  const auto& prefill = record["tests"][0];
  EXPECT_EQ(prefill["n_prompt"], 512);
  EXPECT_NEAR(prefill["stddev_ts"].get<double>(), 7240.77, 0.01);
}

TEST(FormatJson, MissingDeviceMemoryIsNull) {
  BenchReport report = sample_report();
  report.peak_memory_bytes.reset();
  const auto record = nlohmann::json::parse(format_json(report, "0.1.0", "x"));
  EXPECT_TRUE(record["peak_memory_bytes"].is_null());
}

TEST(FormatParallel, BatchedBenchColumnsAndJsonNames) {
  BenchReport report = sample_report();
  report.results.clear();
  ParallelResult row;
  row.test = {.prompt_tokens = 128, .generate_tokens = 128, .streams = 4};
  row.prefill_seconds = 0.5;
  row.decode_seconds = 2.0;
  row.steps = 129;
  row.kv_pool_blocks = 64;
  row.kv_block_positions = 16;
  row.kv_pool_bytes = 64 * 1024;
  report.parallel_results = {row};
  const std::string table = format_markdown(report);
  EXPECT_NE(
      table.find("|  PP |  TG |   B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | S_TG/B t/s |   T s |"),
      std::string::npos)
      << table;
  EXPECT_NE(
      table.find("| 128 | 128 |   4 | 1024 |  0.500 |  1024.00 |  2.000 |   256.00 |      64.00 | 2.500 |"),
      std::string::npos)
      << table;
  const auto record = nlohmann::json::parse(format_json(report, "0.1.0", "x"));
  ASSERT_EQ(record["parallel"].size(), 1u);
  const auto& parallel = record["parallel"][0];
  EXPECT_EQ(parallel["pp"], 128);
  EXPECT_EQ(parallel["tg"], 128);
  EXPECT_EQ(parallel["pl"], 4);
  EXPECT_EQ(parallel["n_kv"], 1024);
  EXPECT_DOUBLE_EQ(parallel["speed_pp"].get<double>(), 1024.0);
  EXPECT_DOUBLE_EQ(parallel["speed_tg"].get<double>(), 256.0);
  EXPECT_DOUBLE_EQ(parallel["speed_tg_per_stream"].get<double>(), 64.0);
  EXPECT_DOUBLE_EQ(parallel["t"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(parallel["speed"].get<double>(), 1024.0 / 2.5);
  EXPECT_EQ(parallel["kv_pool_bytes"], 65536);
  EXPECT_EQ(parallel["kv_pool_measured_bytes"], 0);
  EXPECT_TRUE(record["tests"].empty());
  EXPECT_EQ(table.find("measured"), std::string::npos) << "no measure, no line";
}

TEST(FormatParallel, MeasuredPoolLineSaysBytesPerSequence) {
  BenchReport report = sample_report();
  report.results.clear();
  ParallelResult row;
  row.test = {.prompt_tokens = 4031, .generate_tokens = 64, .streams = 1};
  row.kv_pool_blocks = 256;
  row.kv_block_positions = 16;
  row.kv_pool_bytes = 256 * 16 * 12288;  // 12 KiB per position
  row.kv_pool_measured_bytes = 50331648 + 2097152;
  report.parallel_results = {row};
  const std::string table = format_markdown(report);
  EXPECT_NE(table.find("KV pool of 1 streams: planned 48.0 MiB, measured 50.0 MiB"), std::string::npos)
      << table;
  EXPECT_NE(table.find("12.0 KiB per position, 48.0 MiB per 4,096-token sequence"), std::string::npos)
      << table;
}

}  // namespace
}  // namespace llama_worker::bench
