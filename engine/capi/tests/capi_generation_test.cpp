// runtime::Generation (the step-by-step generator under cuda_inference_next_token) against
// runtime::Session on the same backend: same tokens and same text, greedy and sampled, plain and
// chat; the C API's pieces against Tokenizer::decode; multi-byte characters held back until
// complete (a scripted backend emits byte-fallback tokens); cancellation between prefill chunks
// and between decode steps.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "capi/tests/capi_fixture.hpp"
#include "capi/tests/cpu_engine.hpp"
#include "runtime/generation.hpp"
#include "runtime/session.hpp"
#include "tokenizer/utf8.hpp"

namespace llama_worker::capi::testing {
namespace {

// The CPU engine of cpu_engine.hpp plus the model's chat template.
struct Engine : CpuEngine {
  std::string chat_template;

  void open(const std::string& path) {
    CpuEngine::open(path);
    if (::testing::Test::HasFatalFailure()) return;
    auto templ = file->get<std::string>("tokenizer.chat_template");
    ASSERT_TRUE(templ);
    chat_template = *templ;
  }
};

struct Stepped {
  std::vector<int32_t> tokens;
  std::vector<std::string> pieces;
  std::string text;
  runtime::StopReason stop = runtime::StopReason::kNone;
};

Stepped run_generation(runtime::InferenceBackend& backend, const tokenizer::Tokenizer& tokenizer,
                       const std::string& prompt, const runtime::GenerationOptions& options) {
  Stepped out;
  runtime::Generation generation(backend, tokenizer);
  const Status started = generation.start(prompt, options);
  EXPECT_TRUE(started) << started.message();
  while (started && !generation.finished()) {
    auto step = generation.next();
    EXPECT_TRUE(step) << step.error().message;
    if (!step) break;
    out.tokens.push_back(step->token);
    out.pieces.push_back(step->text);
    out.text += step->text;
    EXPECT_EQ(step->finished, generation.finished());
  }
  out.stop = generation.stop_reason();
  EXPECT_EQ(generation.generated_tokens(), out.tokens);
  return out;
}

runtime::GenerationOptions options_for(int64_t max_tokens, float temperature, uint64_t seed, bool chat,
                                       const std::string& chat_template) {
  runtime::GenerationOptions options;
  options.max_tokens = max_tokens;
  options.sampling.temperature = temperature;
  options.sampling.top_k = 0;
  options.sampling.top_p = 1.0f;
  options.sampling.min_p = 0.0f;
  options.sampling.seed = seed;
  options.chat = chat;
  options.chat_template = chat_template;
  return options;
}

class GenerationVsSession : public ::testing::TestWithParam<std::tuple<float, bool>> {};

TEST_P(GenerationVsSession, SameTokensAndText) {
  CAPI_REQUIRE_MODELS();
  Engine engine;
  ASSERT_NO_FATAL_FAILURE(engine.open(test_models().model));
  const auto [temperature, chat] = GetParam();
  const std::string prompt = "Tell me about wörlds, 日本, and ✓ marks.";
  const runtime::GenerationOptions options = options_for(24, temperature, 99, chat, engine.chat_template);

  runtime::Session session(*engine.backend, *engine.tokenizer);
  std::string session_text;
  auto expected = session.generate(prompt, options, [&](std::string_view text) { session_text += text; });
  ASSERT_TRUE(expected) << expected.error().message;

  const Stepped stepped = run_generation(*engine.backend, *engine.tokenizer, prompt, options);
  EXPECT_EQ(stepped.tokens, expected->generated_tokens);
  EXPECT_EQ(stepped.text, session_text);
  EXPECT_EQ(runtime::stop_reason_name(stepped.stop), expected->stop_reason);
  for (const std::string& piece : stepped.pieces) EXPECT_TRUE(tokenizer::validate_utf8(piece)) << piece;
}

INSTANTIATE_TEST_SUITE_P(GreedyAndSampled, GenerationVsSession,
                         ::testing::Combine(::testing::Values(0.0f, 1.0f), ::testing::Bool()));

TEST(CapiGeneration, CApiTextIsTheDecodedTokensAndMatchesSession) {
  CAPI_REQUIRE_MODELS();
  Engine engine;
  ASSERT_NO_FATAL_FAILURE(engine.open(test_models().model));
  cuda_context* context = nullptr;
  cuda_model* model = nullptr;
  ASSERT_NO_FATAL_FAILURE(open_cpu_model(context, model));

  for (uint64_t seed : {1u, 2u, 3u}) {
    lw_sampling_params params = cuda_default_sampling_params();
    params.temperature = 1.2f;
    params.top_k = 0;
    params.top_p = 1.0f;
    params.min_p = 0.0f;
    params.seed = seed;
    params.max_tokens = 24;
    const std::string prompt = "Unicode: é ß 漢字 🙂";
    const Generated generated = generate(model, prompt, params);
    ASSERT_LW(LW_STATUS_OK, generated.status);

    std::vector<int32_t> printable = generated.tokens;
    if (!printable.empty() && engine.tokenizer->is_end_of_generation(printable.back())) printable.pop_back();
    auto decoded = engine.tokenizer->decode(printable, {.skip_special = true, .strip_dummy_prefix = false});
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(generated.text, *decoded) << "seed " << seed;

    runtime::Session session(*engine.backend, *engine.tokenizer);
    std::string session_text;
    auto expected = session.generate(prompt, options_for(24, 1.2f, seed, false, ""),
                                     [&](std::string_view text) { session_text += text; });
    ASSERT_TRUE(expected) << expected.error().message;
    EXPECT_EQ(generated.tokens, expected->generated_tokens) << "seed " << seed;
    EXPECT_EQ(generated.text, session_text) << "seed " << seed;
  }
  cuda_free(context);
}

// Emits a scripted token sequence (one-hot logits), counting forward() calls, optionally raising
// a cancel flag after a given number of calls.
class ScriptedBackend final : public runtime::InferenceBackend {
 public:
  ScriptedBackend(const model::ModelConfig& config, std::vector<int32_t> script)
      : config_(config), script_(std::move(script)) {}

  const model::ModelConfig& config() const override { return config_; }
  int64_t context_capacity() const override { return 256; }
  int64_t position() const override { return position_; }
  void reset() override { position_ = 0, emitted_ = 0; }
  Status forward(std::span<const int32_t> tokens, runtime::LogitsMode, std::vector<float>& logits) override {
    ++forward_calls;
    if (cancel_after > 0 && forward_calls >= cancel_after) cancel.store(true);
    position_ += static_cast<int64_t>(tokens.size());
    logits.assign(static_cast<size_t>(config_.vocab_size), 0.0f);
    const int32_t next = script_[std::min(emitted_, script_.size() - 1)];
    logits[static_cast<size_t>(next)] = 10.0f;
    ++emitted_;
    return Status::ok();
  }

  int forward_calls = 0;
  int cancel_after = 0;
  std::atomic<bool> cancel{false};

 private:
  const model::ModelConfig& config_;
  std::vector<int32_t> script_;
  int64_t position_ = 0;
  size_t emitted_ = 0;
};

TEST(CapiGeneration, MultiByteCharactersAreHeldBackUntilComplete) {
  CAPI_REQUIRE_MODELS();
  Engine engine;
  ASSERT_NO_FATAL_FAILURE(engine.open(test_models().model));
  const tokenizer::Tokenizer& tok = *engine.tokenizer;
  // "日" is E6 97 A5; "!" after it settles the grapheme cluster.
  const std::vector<int32_t> script = {tok.find_token("<0xE6>"), tok.find_token("<0x97>"),
                                       tok.find_token("<0xA5>"), tok.find_token("!")};
  for (int32_t id : script) ASSERT_GE(id, 0);
  ScriptedBackend backend(engine.backend->config(), script);
  runtime::GenerationOptions options = options_for(4, 0.0f, 0, false, "");
  const Stepped stepped = run_generation(backend, tok, "x", options);
  ASSERT_EQ(stepped.pieces.size(), 4u);
  EXPECT_EQ(stepped.pieces[0], "");
  EXPECT_EQ(stepped.pieces[1], "");
  EXPECT_EQ(stepped.text, "日!");
  EXPECT_EQ(stepped.stop, runtime::StopReason::kTokenLimit);
}

TEST(CapiGeneration, EndOfGenerationTokenEndsWithoutText) {
  CAPI_REQUIRE_MODELS();
  Engine engine;
  ASSERT_NO_FATAL_FAILURE(engine.open(test_models().model));
  const tokenizer::Tokenizer& tok = *engine.tokenizer;
  const int32_t end = tok.find_token("<|end|>");
  ASSERT_TRUE(tok.is_end_of_generation(end));
  ScriptedBackend backend(engine.backend->config(), {tok.find_token("<0xE6>"), end});
  const Stepped stepped = run_generation(backend, tok, "x", options_for(10, 0.0f, 0, false, ""));
  ASSERT_EQ(stepped.tokens.size(), 2u);
  EXPECT_EQ(stepped.tokens[1], end);
  EXPECT_EQ(stepped.stop, runtime::StopReason::kEndOfGeneration);
  EXPECT_EQ(stepped.text, "\xEF\xBF\xBD");  // the dangling lead byte, flushed as U+FFFD
}

TEST(CapiGeneration, CancelStopsThePrefillBetweenChunks) {
  CAPI_REQUIRE_MODELS();
  Engine engine;
  ASSERT_NO_FATAL_FAILURE(engine.open(test_models().model));
  ScriptedBackend backend(engine.backend->config(), std::vector<int32_t>{5});
  backend.cancel_after = 2;
  runtime::Generation generation(backend, *engine.tokenizer, &backend.cancel);
  runtime::GenerationOptions options = options_for(8, 0.0f, 0, false, "");
  options.prefill_chunk = 1;
  ASSERT_TRUE(generation.start("a prompt of several tokens", options));
  ASSERT_GT(generation.prompt_tokens().size(), 3u);
  auto step = generation.next();
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(backend.forward_calls, 2);  // stopped after the chunk that saw the flag raised
  EXPECT_EQ(generation.stop_reason(), runtime::StopReason::kCancelled);
  auto again = generation.next();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kCancelled);
}

TEST(CapiGeneration, CancelStopsTheDecodeBeforeTheNextStep) {
  CAPI_REQUIRE_MODELS();
  Engine engine;
  ASSERT_NO_FATAL_FAILURE(engine.open(test_models().model));
  ScriptedBackend backend(engine.backend->config(), {5});
  runtime::Generation generation(backend, *engine.tokenizer, &backend.cancel);
  ASSERT_TRUE(generation.start("hello", options_for(8, 0.0f, 0, false, "")));
  ASSERT_TRUE(generation.next());
  ASSERT_TRUE(generation.next());
  const int calls = backend.forward_calls;
  backend.cancel.store(true);
  auto step = generation.next();
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(backend.forward_calls, calls);  // no forward after the flag
  EXPECT_EQ(generation.generated_tokens().size(), 2u);
}

TEST(CapiGeneration, StartChecksBeforeAnyBackendWork) {
  CAPI_REQUIRE_MODELS();
  Engine engine;
  ASSERT_NO_FATAL_FAILURE(engine.open(test_models().model));
  ScriptedBackend backend(engine.backend->config(), {5});
  runtime::Generation generation(backend, *engine.tokenizer);
  runtime::GenerationOptions options = options_for(8, 0.0f, 0, false, "");
  options.sampling.temperature = -1.0f;
  EXPECT_EQ(generation.start("hello", options).code(), ErrorCode::kInvalidArgument);
  options = options_for(300, 0.0f, 0, false, "");
  EXPECT_EQ(generation.start("hello", options).code(), ErrorCode::kOutOfRange);
  const std::vector<int32_t> bad = {1, 999999};
  EXPECT_EQ(generation.start_tokens(bad, options_for(4, 0.0f, 0, false, "")).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(backend.forward_calls, 0);
  options = options_for(0, 0.0f, 0, false, "");
  ASSERT_TRUE(generation.start("hello", options));
  EXPECT_TRUE(generation.finished());  // nothing to generate
  EXPECT_FALSE(generation.next());
  EXPECT_EQ(backend.forward_calls, 0);
}

}  // namespace
}  // namespace llama_worker::capi::testing
