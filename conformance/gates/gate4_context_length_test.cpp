// Gate 4, context length: Qwen's shape generates to 2,048 positions of context and Phi-3's to its
// full 4,096, and Phi-3's sliding window behaves as the reference (transformers' original
// checkpoint: a query at q sees keys k with q - k < W, W = 2047) does:
//   - with the window, positions 0..2046 give the same logits as without it, positions 2047 on
//     differ (the first key leaves the window at q = 2047);
//   - tokens beyond the window are no longer attended: with 2 layers, position 4095 reaches back
//     at most 2 x 2046 positions, so changing tokens 0..2 leaves its logits bit-identical with
//     the window, and changes them without it;
//   - filling the KV cache to exactly the context works (prefill + greedy decode steps), one more
//     token is kOutOfRange naming the context, and a generation request whose prompt + max_tokens
//     exceed the context is refused before running, naming the three numbers.
// Models: gates_make_models' qwen2.gguf (context 2048 requested) and phi3-window.gguf (the real
// Phi-3-mini-4k metadata plus phi3.attention.sliding_window = 2047; width 256, 2 layers).
//
// Built twice:
//   gate4_context_length_cpu_test: the checks above on the CPU reference backend (CI);
//   gpu_gate4_context_length_test: the CUDA backend against the CPU reference — logits at
//     positions 2040..2055 and 4088..4095 (Phi-3, window on and off) and 2032..2047 (Qwen) agree,
//     the window-independence check holds on the GPU too — and the exact-shape Qwen2.5-0.5B and
//     Phi-3-mini models (window on) fill 2,048 and 4,096 positions on the device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "exact_shape_models.hpp"
#include "gates_common.hpp"
#include "gguf/file.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/generation.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/vocabulary_from_gguf.hpp"
#if GATES_BACKEND_CUDA
#include "runtime/cuda/cuda_backend.hpp"
#endif

namespace llama_worker::gates {
namespace {

using runtime::InferenceBackend;
using runtime::LogitsMode;

constexpr int64_t kWindow = 2047;

struct Range {
  int64_t begin, end;  // positions [begin, end) whose logits are kept
};

// Deterministic token ids in [100, vocab - 400) (away from the special tokens at either end).
std::vector<int32_t> tokens_for(int64_t count, int64_t vocab, uint32_t seed) {
  std::vector<int32_t> tokens(static_cast<size_t>(count));
  uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (int32_t& token : tokens) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    token = static_cast<int32_t>(100 + (state >> 33) % static_cast<uint64_t>(vocab - 500));
  }
  return tokens;
}

// Prefills `tokens` from an empty cache in chunks of at most 512; returns the logits of the
// positions in `keep` (rows in position order), computing the others' last row only.
std::vector<float> prefill_keeping(InferenceBackend& backend, const std::vector<int32_t>& tokens,
                                   const std::vector<Range>& keep) {
  backend.reset();
  std::vector<float> kept, logits;
  int64_t p = 0;
  const int64_t n = static_cast<int64_t>(tokens.size());
  while (p < n) {
    int64_t end = std::min(n, p + 512);
    bool inside = false;
    for (const Range& r : keep) {
      if (p >= r.begin && p < r.end) {
        inside = true;
        end = std::min(end, r.end);
      } else if (r.begin > p) {
        end = std::min(end, r.begin);
      }
    }
    const std::span<const int32_t> chunk(tokens.data() + p, static_cast<size_t>(end - p));
    const Status status =
        backend.forward(chunk, inside ? LogitsMode::kAllPositions : LogitsMode::kLastPosition, logits);
    EXPECT_TRUE(status) << status.message() << " at position " << p;
    if (!status) return {};
    if (inside) kept.insert(kept.end(), logits.begin(), logits.end());
    p = end;
  }
  EXPECT_EQ(backend.position(), n);
  return kept;
}

double max_abs_diff(const float* a, const float* b, int64_t count) {
  double worst = 0;
  for (int64_t i = 0; i < count; ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  return worst;
}

struct Loaded {
  std::optional<gguf::File> file;
  std::optional<tokenizer::Tokenizer> tokenizer;
};

Loaded load(const std::string& path) {
  Loaded loaded;
  auto file = gguf::File::open(path);
  EXPECT_TRUE(file) << file.error().message;
  if (!file) return loaded;
  loaded.file = std::move(*file);
  auto vocabulary = tokenizer::vocabulary_from_gguf(*loaded.file);
  EXPECT_TRUE(vocabulary) << vocabulary.error().message;
  if (!vocabulary) return loaded;
  auto tok = tokenizer::Tokenizer::create(std::move(*vocabulary));
  EXPECT_TRUE(tok) << tok.error().message;
  if (tok) loaded.tokenizer = std::move(*tok);
  return loaded;
}

std::unique_ptr<InferenceBackend> cpu_backend(const gguf::File& file, int64_t context, bool window) {
  runtime::CpuBackendOptions options;
  options.context = context;
  options.sliding_window = window;
  auto backend = runtime::CpuBackend::create(file, options);
  EXPECT_TRUE(backend) << backend.error().message;
  return backend ? std::unique_ptr<InferenceBackend>(std::move(*backend)) : nullptr;
}

// Prefill to context - 16, then 16 greedy decode steps: the cache holds exactly `context`
// positions; one more token is kOutOfRange naming the context.
void fill_to_context(InferenceBackend& backend, const std::string& what) {
  const int64_t context = backend.context_capacity();
  const int64_t vocab = backend.config().vocab_size;
  const std::vector<int32_t> prompt = tokens_for(context - 16, vocab, 7);
  std::vector<float> logits = prefill_keeping(backend, prompt, {{context - 17, context - 16}});
  ASSERT_EQ(logits.size(), static_cast<size_t>(vocab)) << what;
  int32_t token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  for (int step = 0; step < 16; ++step) {
    const int32_t ids[1] = {token};
    const Status status = backend.forward(ids, LogitsMode::kLastPosition, logits);
    ASSERT_TRUE(status) << what << " decode step " << step << ": " << status.message();
    for (const float v : logits) ASSERT_TRUE(std::isfinite(v)) << what << " step " << step;
    token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  EXPECT_EQ(backend.position(), context) << what;
  const int32_t one[1] = {token};
  const Status past = backend.forward(one, LogitsMode::kLastPosition, logits);
  ASSERT_FALSE(past) << what << ": a token past the context was accepted";
  EXPECT_EQ(past.code(), ErrorCode::kOutOfRange);
  EXPECT_NE(past.message().find(std::to_string(context)), std::string::npos) << past.message();
  std::printf("%s: filled %lld positions; one more: %s\n", what.c_str(), static_cast<long long>(context),
              past.message().c_str());
}

// The window-independence check on one backend factory.
// `same_tolerance`: how far two runs of the same positions may differ when the window does not
// change what they attend to (the window-on and window-off kernels may order work differently).
template <class Make>
void check_window_semantics(Make make, const std::string& what, double same_tolerance) {
  const int64_t context = 4096;
  auto on = make(true);
  auto off = make(false);
  ASSERT_TRUE(on && off);
  ASSERT_EQ(on->config().sliding_window_in_file, kWindow)
      << "phi3-window.gguf must declare the real model's window";
  const int64_t vocab = on->config().vocab_size;
  std::vector<int32_t> tokens = tokens_for(context, vocab, 11);
  std::vector<int32_t> changed = tokens;
  for (int i = 0; i < 3; ++i) changed[i] = tokens[i] == 1000 ? 1001 : 1000;
  const std::vector<Range> keep = {{kWindow - 7, kWindow + 9}, {context - 8, context}};
  const std::vector<float> a = prefill_keeping(*on, tokens, keep);
  const std::vector<float> b = prefill_keeping(*off, tokens, keep);
  const std::vector<float> c = prefill_keeping(*on, changed, keep);
  const std::vector<float> d = prefill_keeping(*off, changed, keep);
  ASSERT_EQ(a.size(), static_cast<size_t>(24 * vocab));
  for (int row = 0; row < 16; ++row) {
    const int64_t position = kWindow - 7 + row;
    const double diff = max_abs_diff(a.data() + row * vocab, b.data() + row * vocab, vocab);
    std::printf("%s: position %lld, window on vs off: max |diff| %.3g\n", what.c_str(),
                static_cast<long long>(position), diff);
    if (position < kWindow) {
      EXPECT_LE(diff, same_tolerance)
          << what << ": position " << position << " is inside the window, yet the window changed it";
    } else {
      EXPECT_GT(diff, 10 * same_tolerance)
          << what << ": position " << position << " lost key " << position - kWindow
          << " to the window, yet its logits did not change";
    }
  }
  const int64_t last = 23;  // row of position 4095
  EXPECT_EQ(max_abs_diff(a.data() + last * vocab, c.data() + last * vocab, vocab), 0.0)
      << what << ": with the window, tokens 0..2 still reach position 4095";
  EXPECT_GT(max_abs_diff(b.data() + last * vocab, d.data() + last * vocab, vocab), 1e-5)
      << what << ": without the window, tokens 0..2 must reach position 4095";
  std::printf("%s: window semantics hold (positions %lld..%lld, 4088..4095)\n", what.c_str(),
              static_cast<long long>(kWindow - 7), static_cast<long long>(kWindow + 8));
}

#if !GATES_BACKEND_CUDA

TEST(Gate4ContextLength, QwenShapeGeneratesToTwoThousandFortyEightPositions) {
  Loaded qwen = load(gate_model("qwen2.gguf"));
  ASSERT_TRUE(qwen.file && qwen.tokenizer);
  auto backend = cpu_backend(*qwen.file, 2048, false);
  ASSERT_TRUE(backend);
  fill_to_context(*backend, "qwen2 (cpu)");
}

TEST(Gate4ContextLength, Phi3GeneratesToItsFullFourThousandNinetySixWithTheWindow) {
  Loaded phi3 = load(gate_model("phi3-window.gguf"));
  ASSERT_TRUE(phi3.file && phi3.tokenizer);
  auto declared = phi3.file->get<uint32_t>("phi3.context_length");
  ASSERT_TRUE(declared);
  EXPECT_EQ(*declared, 4096u);
  auto backend = cpu_backend(*phi3.file, 0, true);  // 0: the model's context, 4096
  ASSERT_TRUE(backend);
  EXPECT_EQ(backend->context_capacity(), 4096);
  fill_to_context(*backend, "phi3 window on (cpu)");
}

TEST(Gate4ContextLength, SlidingWindowBehavesAsTheReference) {
  Loaded phi3 = load(gate_model("phi3-window.gguf"));
  ASSERT_TRUE(phi3.file);
  check_window_semantics([&](bool window) { return cpu_backend(*phi3.file, 4096, window); }, "phi3 (cpu)",
                         1e-5);
}

TEST(Gate4ContextLength, ARequestPastTheContextIsRefusedNamingTheNumbers) {
  Loaded qwen = load(gate_model("qwen2.gguf"));
  ASSERT_TRUE(qwen.file && qwen.tokenizer);
  auto backend = cpu_backend(*qwen.file, 2048, false);
  ASSERT_TRUE(backend);
  runtime::Generation generation(*backend, *qwen.tokenizer);
  runtime::GenerationOptions options;
  options.max_tokens = 16;
  options.sampling.temperature = 0.0f;
  const std::vector<int32_t> prompt = tokens_for(2033, backend->config().vocab_size, 3);
  const Status refused = generation.start_tokens(prompt, options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(refused.message(),
            "the prompt (2033 tokens) plus 16 tokens to generate exceed the context of 2048 positions");
  EXPECT_EQ(backend->position(), 0) << "nothing may run before the request is refused";
  // Exactly at the context: accepted, and generation stops at the token limit with the cache full
  // (or earlier at an end-of-generation token).
  runtime::Generation fits(*backend, *qwen.tokenizer);
  const std::vector<int32_t> shorter(prompt.begin(), prompt.end() - 1);
  ASSERT_TRUE(fits.start_tokens(shorter, options));
  while (!fits.finished()) {
    auto step = fits.next();
    ASSERT_TRUE(step) << step.error().message;
  }
  EXPECT_LE(backend->position(), 2048);
  std::printf("2032 + 16 tokens: stop %s at position %lld\n", runtime::stop_reason_name(fits.stop_reason()),
              static_cast<long long>(backend->position()));
}

#else  // GATES_BACKEND_CUDA

std::unique_ptr<InferenceBackend> cuda_backend(const gguf::File& file, int64_t context, bool window) {
  runtime::cuda::CudaBackendOptions options;
  options.context = context;
  options.sliding_window = window;
  auto backend = runtime::cuda::CudaBackend::create(file, options);
  EXPECT_TRUE(backend) << backend.error().message;
  return backend ? std::unique_ptr<InferenceBackend>(std::move(*backend)) : nullptr;
}

double nmse(const float* actual, const float* expected, int64_t count) {
  double error = 0, norm = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(actual[i])) return INFINITY;
    error += (double(actual[i]) - expected[i]) * (double(actual[i]) - expected[i]);
    norm += double(expected[i]) * expected[i];
  }
  return error / norm;
}

// Same rule as gpu_exact_shape_tests: NMSE <= 1e-4 per row, and the same top-1 unless the CPU's
// own top two are within 2e-3 (relative) of each other.
void expect_rows_agree(const std::vector<float>& gpu, const std::vector<float>& cpu, int64_t vocab,
                       int64_t first_position, const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  double worst = 0;
  for (size_t row = 0; row * vocab < cpu.size(); ++row) {
    const float* g = gpu.data() + row * vocab;
    const float* c = cpu.data() + row * vocab;
    const double row_nmse = nmse(g, c, vocab);
    worst = std::max(worst, row_nmse);
    EXPECT_LE(row_nmse, 1e-4) << what << " position " << first_position + static_cast<int64_t>(row);
    const int64_t gpu_top = std::max_element(g, g + vocab) - g;
    const int64_t cpu_top = std::max_element(c, c + vocab) - c;
    if (gpu_top != cpu_top) {
      EXPECT_GE(c[gpu_top], c[cpu_top] - 2e-3f * (std::fabs(c[cpu_top]) + 1.0f))
          << what << " position " << first_position + static_cast<int64_t>(row);
    }
  }
  std::printf("%s: %zu positions from %lld, worst NMSE %.3g\n", what.c_str(), cpu.size() / vocab,
              static_cast<long long>(first_position), worst);
}

TEST(Gate4ContextLengthGpu, Phi3LogitsPastTheWindowMatchTheCpuReference) {
  Loaded phi3 = load(gate_model("phi3-window.gguf"));
  ASSERT_TRUE(phi3.file);
  for (const bool window : {true, false}) {
    auto cpu = cpu_backend(*phi3.file, 4096, window);
    auto gpu = cuda_backend(*phi3.file, 4096, window);
    ASSERT_TRUE(cpu && gpu);
    const int64_t vocab = cpu->config().vocab_size;
    const std::vector<int32_t> tokens = tokens_for(4096, vocab, 11);
    const std::vector<Range> keep = {{kWindow - 7, kWindow + 9}, {4088, 4096}};
    const std::vector<float> on_cpu = prefill_keeping(*cpu, tokens, keep);
    const std::vector<float> on_gpu = prefill_keeping(*gpu, tokens, keep);
    ASSERT_EQ(on_cpu.size(), static_cast<size_t>(24 * vocab));
    const std::string what = std::string("phi3 window ") + (window ? "on" : "off");
    expect_rows_agree(std::vector<float>(on_gpu.begin(), on_gpu.begin() + 16 * vocab),
                      std::vector<float>(on_cpu.begin(), on_cpu.begin() + 16 * vocab), vocab, kWindow - 7,
                      what);
    expect_rows_agree(std::vector<float>(on_gpu.begin() + 16 * vocab, on_gpu.end()),
                      std::vector<float>(on_cpu.begin() + 16 * vocab, on_cpu.end()), vocab, 4088, what);
    // Decode steps past the window: one token at a time at positions 4093..4095.
    std::vector<int32_t> head(tokens.begin(), tokens.end() - 3);
    prefill_keeping(*cpu, head, {});
    prefill_keeping(*gpu, head, {});
    for (int step = 0; step < 3; ++step) {
      const int32_t ids[1] = {tokens[4093 + step]};
      std::vector<float> c, g;
      ASSERT_TRUE(cpu->forward(ids, LogitsMode::kLastPosition, c));
      ASSERT_TRUE(gpu->forward(ids, LogitsMode::kLastPosition, g));
      expect_rows_agree(g, c, vocab, 4093 + step, what + " decode");
    }
  }
}

TEST(Gate4ContextLengthGpu, SlidingWindowBehavesAsTheReferenceOnTheGpu) {
  Loaded phi3 = load(gate_model("phi3-window.gguf"));
  ASSERT_TRUE(phi3.file);
  check_window_semantics([&](bool window) { return cuda_backend(*phi3.file, 4096, window); }, "phi3 (cuda)",
                         1e-3);
}

TEST(Gate4ContextLengthGpu, QwenLogitsAtTheEndOfTwoThousandFortyEightMatchTheCpuReference) {
  Loaded qwen = load(gate_model("qwen2.gguf"));
  ASSERT_TRUE(qwen.file);
  auto cpu = cpu_backend(*qwen.file, 2048, false);
  auto gpu = cuda_backend(*qwen.file, 2048, false);
  ASSERT_TRUE(cpu && gpu);
  const int64_t vocab = cpu->config().vocab_size;
  const std::vector<int32_t> tokens = tokens_for(2048, vocab, 5);
  const std::vector<float> on_cpu = prefill_keeping(*cpu, tokens, {{2032, 2048}});
  const std::vector<float> on_gpu = prefill_keeping(*gpu, tokens, {{2032, 2048}});
  expect_rows_agree(on_gpu, on_cpu, vocab, 2032, "qwen2 context 2048");
  fill_to_context(*gpu, "qwen2 small (cuda)");
}

TEST(Gate4ContextLengthGpu, ExactShapeQwenFillsTwoThousandFortyEightPositions) {
  Loaded qwen = load(exact_shape_qwen());
  ASSERT_TRUE(qwen.file);
  auto gpu = cuda_backend(*qwen.file, 2048, false);
  ASSERT_TRUE(gpu);
  fill_to_context(*gpu, "qwen2.5-0.5b exact shape (cuda)");
}

TEST(Gate4ContextLengthGpu, ExactShapePhi3FillsFourThousandNinetySixWithTheWindow) {
  // The exact-shape file has no sliding_window key (the vocabulary file lacks it), so the window
  // is checked on the small model above; here the full context on the real shapes.
  Loaded phi3 = load(exact_shape_phi3());
  ASSERT_TRUE(phi3.file);
  auto gpu = cuda_backend(*phi3.file, 4096, false);
  ASSERT_TRUE(gpu);
  fill_to_context(*gpu, "phi-3-mini exact shape (cuda)");
}

#endif

}  // namespace
}  // namespace llama_worker::gates
