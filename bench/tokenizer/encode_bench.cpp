// Encode throughput (MB/s, one thread) of the real tokenizers on a multilingual text of at least
// 1 MiB, for side-by-side comparison with Hugging Face tokenizers (compare_hf.py runs both).
//
// The text: the oracle corpus (golden/tokenizer/corpus.json: many scripts, emoji, code, URLs,
// white space), its strings joined by newlines in a seeded shuffled order, repeated until the
// text reaches 1 MiB. `--text-out=PATH` writes it so that the Python side encodes the very same
// bytes. Other flags: --corpus=PATH, --vocab-dir=DIR, then Google Benchmark's own.
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gguf/file.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/vocabulary_from_gguf.hpp"

namespace {

using namespace llama_worker;

std::string g_corpus_path = LLAMA_WORKER_BENCH_CORPUS;
std::string g_vocab_dir = LLAMA_WORKER_BENCH_VOCAB_DIR;
constexpr size_t kTextBytes = 1 << 20;

const std::string& bench_text() {
  static const std::string text = [] {
    std::ifstream in(g_corpus_path);
    if (!in) {
      std::fprintf(stderr, "cannot read corpus %s\n", g_corpus_path.c_str());
      std::exit(1);
    }
    std::vector<std::string> texts = nlohmann::json::parse(in).at("texts").get<std::vector<std::string>>();
    std::mt19937 rng(20261126);
    std::string out;
    while (out.size() < kTextBytes) {
      std::shuffle(texts.begin(), texts.end(), rng);
      for (const std::string& t : texts) {
        out += t;
        out.push_back('\n');
      }
    }
    return out;
  }();
  return text;
}

const tokenizer::Tokenizer& load(const std::string& name) {
  static std::vector<std::pair<std::string, std::unique_ptr<tokenizer::Tokenizer>>> cache;
  for (auto& [key, value] : cache) {
    if (key == name) return *value;
  }
  const std::string path = g_vocab_dir + "/" + name + ".vocab.gguf";
  Result<gguf::File> file = gguf::File::open(path);
  Result<tokenizer::Vocabulary> vocabulary =
      file ? tokenizer::vocabulary_from_gguf(*file) : Result<tokenizer::Vocabulary>(file.error());
  Result<tokenizer::Tokenizer> built = vocabulary ? tokenizer::Tokenizer::create(std::move(*vocabulary))
                                                  : Result<tokenizer::Tokenizer>(vocabulary.error());
  if (!built) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), built.error().message.c_str());
    std::exit(1);
  }
  cache.emplace_back(name, std::make_unique<tokenizer::Tokenizer>(std::move(*built)));
  return *cache.back().second;
}

void encode_text(benchmark::State& state, const char* name) {
  const tokenizer::Tokenizer& t = load(name);
  const std::string& text = bench_text();
  size_t tokens = 0;
  for (auto _ : state) {
    Result<std::vector<int32_t>> ids = t.encode(text);
    if (!ids) {
      state.SkipWithError(ids.error().message.c_str());
      return;
    }
    tokens = ids->size();
    benchmark::DoNotOptimize(ids->data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["text_bytes"] = static_cast<double>(text.size());
  state.counters["tokens"] = static_cast<double>(tokens);
}

BENCHMARK_CAPTURE(encode_text, qwen2_5, "qwen2.5-0.5b-instruct")->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(encode_text, phi3, "phi-3-mini-4k-instruct")->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  std::string text_out;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--text-out=", 0) == 0) {
      text_out = arg.substr(11);
    } else if (arg.rfind("--corpus=", 0) == 0) {
      g_corpus_path = arg.substr(9);
    } else if (arg.rfind("--vocab-dir=", 0) == 0) {
      g_vocab_dir = arg.substr(12);
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!text_out.empty()) {
    std::ofstream out(text_out, std::ios::binary);
    out << bench_text();
  }
  int rest_count = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_count, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_count, rest.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
