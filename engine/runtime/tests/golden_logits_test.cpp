// The CPU backend against golden logits from an independent oracle (Hugging Face transformers on
// PyTorch, golden/logits/make_logits_goldens.py). One CTest test per golden file:
//   golden_logits_test --golden golden/logits/NAME.json (--model PATH | --cache-model RELATIVE)
// --cache-model resolves under $LLAMA_WORKER_CACHE (default ~/.cache/llama-worker), where the
// ci/fetch-*.sh scripts put real weights. A missing model file skips the test (exit 77, with the
// reason); a model whose SHA-256 differs from the golden's fails before any comparison.
//
// Checks (tolerances from the golden's header):
//   every position of one batched prefill: top-1 equals the oracle's unless the oracle's top1-top2
//   margin is below top1_margin (a numerical tie); every stored logit (top-k and sampled ids)
//   within logit_abs + logit_rel * |oracle|; log-sum-exp over the vocabulary within
//   logsumexp_abs * (1 + |oracle|);
//   the greedy continuation, decoded step by step through the KV cache, equals the oracle's
//   (which re-ran the whole sequence each step), up to the first numerical tie.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gguf/file.hpp"
#include "model/synthetic/sha256.hpp"
#include "runtime/cpu_backend.hpp"

namespace llama_worker::runtime {
namespace {

struct Arguments {
  std::string golden_path;
  std::string model_path;
  std::string skip_reason;  // non-empty: the model is not available
};
Arguments g_arguments;

struct Tolerances {
  double logit_abs = 0, logit_rel = 0, logsumexp_abs = 0, top1_margin = 0;
};

class GoldenLogits : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream stream(g_arguments.golden_path);
    ASSERT_TRUE(stream) << "cannot read " << g_arguments.golden_path;
    golden_ = std::make_unique<nlohmann::json>(nlohmann::json::parse(stream));
    ASSERT_EQ((*golden_)["format_version"].get<int>(), 1);
    const auto& t = (*golden_)["tolerances"];
    tolerances_ = {t["logit_abs"].get<double>(), t["logit_rel"].get<double>(),
                   t["logsumexp_abs"].get<double>(), t["top1_margin"].get<double>()};
    if (!g_arguments.skip_reason.empty()) return;
    auto digest = synthetic::sha256_file_hex(g_arguments.model_path);
    ASSERT_TRUE(digest) << digest.error().message;
    sha256_ = *digest;
    auto file = gguf::File::open(g_arguments.model_path);
    ASSERT_TRUE(file) << file.error().message;
    file_ = std::make_unique<gguf::File>(std::move(*file));
    auto backend = CpuBackend::create(*file_, {});  // one load (weights dequantized once) for both tests
    ASSERT_TRUE(backend) << backend.error().message;
    backend_ = std::move(*backend);
  }
  static void TearDownTestSuite() {
    backend_.reset();
    golden_.reset();
    file_.reset();
  }

  void SetUp() override {
    if (!g_arguments.skip_reason.empty()) GTEST_SKIP() << g_arguments.skip_reason;
    ASSERT_NE(file_, nullptr);
    ASSERT_EQ(sha256_, (*golden_)["model"]["sha256"].get<std::string>())
        << g_arguments.model_path << " is not the file the goldens were made from";
  }

  // The shared backend with an empty KV cache.
  static CpuBackend* fresh_backend() {
    if (backend_) backend_->reset();
    return backend_.get();
  }

  static std::unique_ptr<nlohmann::json> golden_;
  static std::unique_ptr<gguf::File> file_;
  static std::unique_ptr<CpuBackend> backend_;
  static std::string sha256_;
  static Tolerances tolerances_;
};
std::unique_ptr<nlohmann::json> GoldenLogits::golden_;
std::unique_ptr<gguf::File> GoldenLogits::file_;
std::unique_ptr<CpuBackend> GoldenLogits::backend_;
std::string GoldenLogits::sha256_;
Tolerances GoldenLogits::tolerances_;

int64_t argmax(const float* row, int64_t count) {
  int64_t best = 0;
  for (int64_t i = 1; i < count; ++i) best = row[i] > row[best] ? i : best;
  return best;
}

TEST_F(GoldenLogits, PrefillLogitsMatchTheOracle) {
  const auto& g = *golden_;
  const auto tokens = g["tokens"].get<std::vector<int32_t>>();
  const auto sampled_ids = g["sampled_ids"].get<std::vector<int64_t>>();
  const int64_t vocab = g["vocab"].get<int64_t>();
  CpuBackend* backend = fresh_backend();
  ASSERT_NE(backend, nullptr);
  ASSERT_EQ(backend->config().vocab_size, vocab);
  std::vector<float> logits;
  ASSERT_TRUE(backend->forward(tokens, LogitsMode::kAllPositions, logits));
  ASSERT_EQ(logits.size(), tokens.size() * vocab);

  double worst = 0;
  for (size_t p = 0; p < tokens.size(); ++p) {
    const auto& expected = g["positions"][p];
    const float* row = logits.data() + p * vocab;
    const auto top_ids = expected["top_ids"].get<std::vector<int64_t>>();
    if (expected["margin"].get<double>() > tolerances_.top1_margin) {
      EXPECT_EQ(argmax(row, vocab), top_ids[0]) << "top-1 at position " << p;
    }
    auto check = [&](int64_t id, double oracle) {
      const double diff = std::fabs(row[id] - oracle);
      worst = std::max(worst, diff);
      EXPECT_LE(diff, tolerances_.logit_abs + tolerances_.logit_rel * std::fabs(oracle))
          << "logit of id " << id << " at position " << p << ": ours " << row[id] << ", oracle " << oracle;
    };
    const auto top_logits = expected["top_logits"].get<std::vector<double>>();
    for (size_t i = 0; i < top_ids.size(); ++i) check(top_ids[i], top_logits[i]);
    const auto sampled_logits = expected["sampled_logits"].get<std::vector<double>>();
    for (size_t i = 0; i < sampled_ids.size(); ++i) check(sampled_ids[i], sampled_logits[i]);

    double maximum = row[0], sum = 0;
    for (int64_t i = 0; i < vocab; ++i) maximum = std::max(maximum, double(row[i]));
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(row[i]) - maximum);
    const double logsumexp = maximum + std::log(sum), oracle = expected["logsumexp"].get<double>();
    EXPECT_LE(std::fabs(logsumexp - oracle), tolerances_.logsumexp_abs * (1 + std::fabs(oracle)))
        << "log-sum-exp at position " << p;
  }
  std::printf("worst |ours - oracle| over %zu positions: %.3g (bound %.3g + %.3g |oracle|)\n", tokens.size(),
              worst, tolerances_.logit_abs, tolerances_.logit_rel);
}

TEST_F(GoldenLogits, GreedyContinuationMatchesTheOracle) {
  const auto& g = *golden_;
  const auto tokens = g["tokens"].get<std::vector<int32_t>>();
  const auto expected = g["greedy"]["tokens"].get<std::vector<int32_t>>();
  const auto margins = g["greedy"]["margins"].get<std::vector<double>>();
  CpuBackend* backend = fresh_backend();
  ASSERT_NE(backend, nullptr);
  const int64_t vocab = backend->config().vocab_size;
  std::vector<float> logits;
  ASSERT_TRUE(backend->forward(tokens, LogitsMode::kLastPosition, logits));
  for (size_t step = 0; step < expected.size(); ++step) {
    const int32_t ours = static_cast<int32_t>(argmax(logits.data(), vocab));
    if (margins[step] <= tolerances_.top1_margin) {
      std::printf("greedy step %zu is a numerical tie in the oracle (margin %.3g): compared up to here\n",
                  step, margins[step]);
      return;
    }
    ASSERT_EQ(ours, expected[step]) << "greedy step " << step;
    ASSERT_TRUE(backend->forward(std::span(&ours, 1), LogitsMode::kLastPosition, logits));
  }
}

}  // namespace
}  // namespace llama_worker::runtime

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  using llama_worker::runtime::g_arguments;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--golden") {
      g_arguments.golden_path = value;
    } else if (flag == "--model") {
      g_arguments.model_path = value;
      if (!std::filesystem::exists(value)) {
        g_arguments.skip_reason = "model " + value +
                                  " is missing (made by the golden_logits.mkmodel.* fixture, "
                                  "which needs the shared data directory)";
      }
    } else if (flag == "--cache-model") {
      const char* cache = std::getenv("LLAMA_WORKER_CACHE");
      const char* home = std::getenv("HOME");
      const std::string root =
          cache && *cache ? cache : std::string(home ? home : ".") + "/.cache/llama-worker";
      g_arguments.model_path = root + "/" + value;
      if (!std::filesystem::exists(g_arguments.model_path)) {
        g_arguments.skip_reason = "real weights " + g_arguments.model_path +
                                  " not fetched (run the ci/fetch-*.sh "
                                  "script named in the golden file)";
      }
    } else {
      std::fprintf(stderr, "unknown argument %s\n", flag.c_str());
      return 2;
    }
  }
  if (g_arguments.golden_path.empty() || g_arguments.model_path.empty()) {
    std::fprintf(stderr, "usage: golden_logits_test --golden FILE (--model PATH | --cache-model RELATIVE)\n");
    return 2;
  }
  const int status = RUN_ALL_TESTS();
  if (!g_arguments.skip_reason.empty() && status == 0) {
    std::printf("SKIPPED: %s\n", g_arguments.skip_reason.c_str());
    return 77;
  }
  return status;
}
