// gates_make_models VOCAB_DIR OUT_DIR: writes the small synthetic models the gate tests share
// (engine/model/synthetic, the library behind `llama-worker mkmodel`), once per build:
//
//   qwen2.gguf         = golden/logits synthetic-qwen2-q4_k_m: Qwen2.5-0.5B-Instruct's vocabulary
//                        and metadata, Q4_K_M, seed 1, 2 layers, width 256, ff 512, 4/2 heads, tied
//   phi3.gguf          = golden/logits synthetic-phi3-q4_k_m: Phi-3-mini-4k's vocabulary and
//                        metadata, Q4_K_M, seed 2, 2 layers, width 256, ff 512, 4/4 heads
//   phi3-window.gguf   = phi3.gguf plus phi3.attention.sliding_window = 2047, the value of the
//                        real Phi-3-mini-4k-instruct (config.json sliding_window; newer llama.cpp
//                        conversions write the key). Context 4096 as the real file.
//
// The first two are byte-identical to the golden_logits models (same options, same generator),
// so the gate-3 tests can hold the C API's greedy tokens against transformers' goldens; the tests
// check the SHA-256 the goldens pin. Exit 77 when the vocabulary files are missing.
#include <cstdio>
#include <filesystem>
#include <string>

#include "gguf/writer.hpp"
#include "model/synthetic/synthetic_model.hpp"

namespace {

using llama_worker::synthetic::SyntheticOptions;

struct Entry {
  const char* file;
  const char* vocabulary;
  uint64_t seed;
  int64_t kv_heads;
  bool tied;
  int64_t sliding_window;  // 0: key not written
};

int write_model(const std::string& vocab_dir, const std::string& out_dir, const Entry& entry) {
  SyntheticOptions options;
  options.vocabulary_path = vocab_dir + "/" + entry.vocabulary;
  options.recipe = "Q4_K_M";
  options.seed = entry.seed;
  options.overrides.layers = 2;
  options.overrides.embedding = 256;
  options.overrides.feed_forward = 512;
  options.overrides.heads = 4;
  options.overrides.kv_heads = entry.kv_heads;
  options.overrides.tied = entry.tied;
  llama_worker::gguf::Writer writer;
  auto summary = llama_worker::synthetic::build_synthetic_model(options, writer);
  if (!summary) {
    std::fprintf(stderr, "error: %s: %s\n", entry.file, summary.error().message.c_str());
    return 1;
  }
  if (entry.sliding_window > 0) {
    writer.set(summary->shape.architecture + ".attention.sliding_window",
               static_cast<uint32_t>(entry.sliding_window));
  }
  const std::string path = out_dir + "/" + entry.file;
  const std::string partial = path + ".partial";
  if (auto written = writer.write(partial); !written) {
    std::fprintf(stderr, "error: %s: %s\n", path.c_str(), written.error().message.c_str());
    return 1;
  }
  std::filesystem::rename(partial, path);
  std::printf("wrote %s\n", path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: gates_make_models VOCAB_DIR OUT_DIR\n");
    return 2;
  }
  const std::string vocab_dir = argv[1], out_dir = argv[2];
  const Entry entries[] = {
      {"qwen2.gguf", "qwen2.5-0.5b-instruct.vocab.gguf", 1, 2, true, 0},
      {"phi3.gguf", "phi-3-mini-4k-instruct.vocab.gguf", 2, 4, false, 0},
      {"phi3-window.gguf", "phi-3-mini-4k-instruct.vocab.gguf", 2, 4, false, 2047},
  };
  for (const Entry& entry : entries) {
    if (!std::filesystem::exists(vocab_dir + "/" + entry.vocabulary)) {
      std::printf("SKIPPED: vocabulary %s/%s is missing\n", vocab_dir.c_str(), entry.vocabulary);
      return 77;
    }
  }
  std::filesystem::create_directories(out_dir);
  for (const Entry& entry : entries) {
    if (const int status = write_model(vocab_dir, out_dir, entry); status != 0) return status;
  }
  return 0;
}
