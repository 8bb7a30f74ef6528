#include "runtime/generation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <utility>

namespace llama_worker::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

Error cancelled_error() { return make_error(ErrorCode::kCancelled, "the generation was cancelled"); }

}  // namespace

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::kNone:
      return "running";
    case StopReason::kEndOfGeneration:
      return "end of generation token";
    case StopReason::kTokenLimit:
      return "token limit";
    case StopReason::kCancelled:
      return "cancelled";
    case StopReason::kFailed:
      return "failed";
  }
  return "unknown";
}

Status Generation::check_options(const GenerationOptions& options) const {
  if (started_) return make_error(ErrorCode::kInvalidArgument, "the generation was already started");
  if (options.max_tokens < 0)
    return make_error(ErrorCode::kInvalidArgument, "the token limit must not be negative");
  if (options.prefill_chunk <= 0)
    return make_error(ErrorCode::kInvalidArgument, "prefill chunk must be positive");
  return sampling::validate(options.sampling);
}

Status Generation::start(std::string_view prompt, const GenerationOptions& options) {
  LW_TRY(check_options(options));
  // Session's encoder: the same chat wrapping, special-token parsing and BOS rule.
  const Session encoder(backend_, tokenizer_);
  LW_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, encoder.encode_prompt(prompt, options));
  return accept_prompt(std::move(tokens), options);
}

Status Generation::start_tokens(std::span<const int32_t> prompt_tokens, const GenerationOptions& options) {
  LW_TRY(check_options(options));
  if (prompt_tokens.empty()) return make_error(ErrorCode::kInvalidArgument, "the prompt has no tokens");
  const int64_t vocabulary = std::min<int64_t>(backend_.config().vocab_size, tokenizer_.size());
  for (size_t i = 0; i < prompt_tokens.size(); ++i) {
    const int32_t id = prompt_tokens[i];
    if (id < 0 || id >= vocabulary) {
      return make_error(ErrorCode::kInvalidArgument,
                        "prompt token " + std::to_string(i) + " has id " + std::to_string(id) +
                            ", outside the vocabulary [0, " + std::to_string(vocabulary) + ")");
    }
  }
  return accept_prompt(std::vector<int32_t>(prompt_tokens.begin(), prompt_tokens.end()), options);
}

Status Generation::accept_prompt(std::vector<int32_t> tokens, const GenerationOptions& options) {
  const int64_t prompt_size = static_cast<int64_t>(tokens.size());
  const int64_t capacity = backend_.context_capacity();
  if (options.max_tokens > capacity - prompt_size) {  // not prompt + max: an absurd max would overflow
    return make_error(ErrorCode::kOutOfRange, "the prompt (" + std::to_string(prompt_size) +
                                                  " tokens) plus " + std::to_string(options.max_tokens) +
                                                  " tokens to generate exceed the context of " +
                                                  std::to_string(capacity) + " positions");
  }
  LW_ASSIGN_OR_RETURN(sampling::Sampler sampler, sampling::Sampler::create(options.sampling));
  sampler_.emplace(std::move(sampler));
  decoder_.emplace(tokenizer_, tokenizer::StreamingDecoder::Boundary::kGraphemeCluster,
                   tokenizer::DecodeOptions{.skip_special = true, .strip_dummy_prefix = false});
  max_tokens_ = options.max_tokens;
  prefill_chunk_ = options.prefill_chunk;
  prompt_tokens_ = std::move(tokens);
  history_ = prompt_tokens_;
  started_ = true;
  if (max_tokens_ == 0) stop_reason_ = StopReason::kTokenLimit;  // nothing to generate: never prefills
  return Status::ok();
}

Error Generation::fail(Error error) {
  stop_reason_ = error.code == ErrorCode::kCancelled ? StopReason::kCancelled : StopReason::kFailed;
  failure_ = error;
  return error;
}

Status Generation::prefill() {
  backend_.reset();
  const auto start = Clock::now();
  const int64_t prompt_size = static_cast<int64_t>(prompt_tokens_.size());
  for (int64_t begin = 0; begin < prompt_size; begin += prefill_chunk_) {
    if (cancel_requested()) return cancelled_error();
    const int64_t count = std::min(prefill_chunk_, prompt_size - begin);
    LW_TRY(backend_.forward(
        std::span(prompt_tokens_).subspan(static_cast<size_t>(begin), static_cast<size_t>(count)),
        LogitsMode::kLastPosition, logits_));
  }
  prefill_ms_ = elapsed_ms(start);
  prefilled_ = true;
  return Status::ok();
}

Result<GenerationStep> Generation::step() {
  auto start = Clock::now();  // decode time: every step's forward, sampling and text, not the prefill
  if (!prefilled_) {
    LW_TRY(prefill());
    start = Clock::now();
  } else {
    if (cancel_requested()) return cancelled_error();
    const int32_t last = generated_tokens_.back();
    LW_TRY(backend_.forward(std::span(&last, 1), LogitsMode::kLastPosition, logits_));
  }
  if (cancel_requested()) return cancelled_error();
  for (size_t id = 0; id < logits_.size(); ++id) {
    if (!std::isfinite(logits_[id])) {
      non_finite_logits_ = true;
      return make_error(ErrorCode::kInternal,
                        "the model produced a non-finite logit (" + std::to_string(logits_[id]) +
                            " for token " + std::to_string(id) + ") at position " +
                            std::to_string(history_.size() - 1) + ": its weights are probably corrupt");
    }
  }
  LW_ASSIGN_OR_RETURN(int32_t token, sampler_->sample(logits_, history_));
  generated_tokens_.push_back(token);
  history_.push_back(token);

  GenerationStep result;
  result.token = token;
  if (tokenizer_.is_end_of_generation(token)) {
    stop_reason_ = StopReason::kEndOfGeneration;
    result.text = decoder_->finish();
  } else {
    LW_ASSIGN_OR_RETURN(result.text, decoder_->push(token));
    if (static_cast<int64_t>(generated_tokens_.size()) >= max_tokens_) {
      stop_reason_ = StopReason::kTokenLimit;
      result.text += decoder_->finish();
    }
  }
  result.finished = finished();
  result.stop_reason = stop_reason_;
  decode_ms_ += elapsed_ms(start);
  return result;
}

Result<GenerationStep> Generation::next() {
  if (failure_) {
    if (failure_->code == ErrorCode::kCancelled) return *failure_;
    return make_error(failure_->code, "the generation failed earlier: " + failure_->message);
  }
  if (!started_) return make_error(ErrorCode::kOutOfRange, "the generation was not started");
  if (finished()) {
    return make_error(ErrorCode::kOutOfRange,
                      std::string("the generation has finished (") + stop_reason_name(stop_reason_) + ")");
  }
  Result<GenerationStep> result = step();
  if (!result) return fail(result.error());
  return result;
}

}  // namespace llama_worker::runtime
