#include "runtime/session.hpp"

#include <algorithm>
#include <chrono>
#include <string>

#include "runtime/chat_format.hpp"
#include "sampling/sampler.hpp"
#include "tokenizer/streaming_decoder.hpp"

namespace llama_worker::runtime {

Result<std::vector<int32_t>> Session::encode_prompt(std::string_view prompt,
                                                    const GenerationOptions& options) const {
  std::string text(prompt);
  tokenizer::EncodeOptions encode;
  if (options.chat) {
    LW_ASSIGN_OR_RETURN(ChatPrompt chat, format_chat_prompt(options.chat_template, prompt));
    text = std::move(chat.text);
    encode.parse_special = true;
  }
  LW_ASSIGN_OR_RETURN(std::vector<int32_t> body, tokenizer_.encode(text, encode));
  // BOS as the vocabulary asks; never EOS (add_eos would end the prompt before the answer).
  std::vector<int32_t> ids;
  const tokenizer::Vocabulary& vocabulary = tokenizer_.vocabulary();
  if (vocabulary.add_bos && vocabulary.special.bos != tokenizer::kNoToken)
    ids.push_back(vocabulary.special.bos);
  ids.insert(ids.end(), body.begin(), body.end());
  if (ids.empty()) return make_error(ErrorCode::kInvalidArgument, "the prompt encodes to no tokens");
  return ids;
}

Result<GenerationResult> Session::generate(std::string_view prompt, const GenerationOptions& options,
                                           const std::function<void(std::string_view)>& on_text) {
  if (options.max_tokens < 0)
    return make_error(ErrorCode::kInvalidArgument, "the token limit must not be negative");
  if (options.prefill_chunk <= 0)
    return make_error(ErrorCode::kInvalidArgument, "prefill chunk must be positive");
  LW_ASSIGN_OR_RETURN(sampling::Sampler sampler, sampling::Sampler::create(options.sampling));
  GenerationResult result;
  LW_ASSIGN_OR_RETURN(result.prompt_tokens, encode_prompt(prompt, options));

  const int64_t prompt_size = static_cast<int64_t>(result.prompt_tokens.size());
  const int64_t capacity = backend_.context_capacity();
  if (options.max_tokens > capacity - prompt_size) {  // not prompt + max: an absurd max would overflow
    return make_error(ErrorCode::kOutOfRange, "the prompt (" + std::to_string(prompt_size) +
                                                  " tokens) plus " + std::to_string(options.max_tokens) +
                                                  " tokens to generate exceed the context of " +
                                                  std::to_string(capacity) +
                                                  " positions (lower -n, shorten the prompt or raise --ctx)");
  }

  backend_.reset();
  using Clock = std::chrono::steady_clock;
  auto elapsed_ms = [](Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
  };
  std::vector<float> logits;
  const auto prefill_start = Clock::now();
  for (int64_t begin = 0; begin < prompt_size; begin += options.prefill_chunk) {
    const int64_t count = std::min(options.prefill_chunk, prompt_size - begin);
    LW_TRY(backend_.forward(
        std::span(result.prompt_tokens).subspan(static_cast<size_t>(begin), static_cast<size_t>(count)),
        LogitsMode::kLastPosition, logits));
  }
  result.prefill_ms = elapsed_ms(prefill_start);

  std::vector<int32_t> history = result.prompt_tokens;
  tokenizer::StreamingDecoder decoder(
      tokenizer_, tokenizer::StreamingDecoder::Boundary::kGraphemeCluster,
      tokenizer::DecodeOptions{.skip_special = true, .strip_dummy_prefix = false});
  const auto decode_start = Clock::now();
  result.stop_reason = "token limit";
  for (int64_t step = 0; step < options.max_tokens; ++step) {
    if (step > 0) {
      const int32_t last = result.generated_tokens.back();
      LW_TRY(backend_.forward(std::span(&last, 1), LogitsMode::kLastPosition, logits));
    }
    LW_ASSIGN_OR_RETURN(int32_t token, sampler.sample(logits, history));
    result.generated_tokens.push_back(token);
    history.push_back(token);
    if (tokenizer_.is_end_of_generation(token)) {
      result.stop_reason = "end of generation token";
      break;
    }
    LW_ASSIGN_OR_RETURN(std::string text, decoder.push(token));
    if (!text.empty()) on_text(text);
  }
  const std::string rest = decoder.finish();
  if (!rest.empty()) on_text(rest);
  result.decode_ms = elapsed_ms(decode_start);
  return result;
}

}  // namespace llama_worker::runtime
