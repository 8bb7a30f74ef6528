// C API entry points for inferences: cuda_inference_start(_tokens), cuda_inference_next_token,
// cuda_inference_cancel, cuda_inference_get_stats, cuda_inference_free.
//
// An inference wraps a runtime::Generation (engine/runtime/generation.hpp). Start validates in
// the order that gives each bad request its own status: handles, out-pointers, parameters,
// the prompt (empty, UTF-8, token ids), chat support, the model's single KV cache (busy), and
// last the prompt's length against the context; nothing runs on the device until the first
// cuda_inference_next_token, which prefills (cancellable between chunks).
#include <chrono>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "capi/device_glue.hpp"
#include "capi/entry_helpers.hpp"
#include "capi/handle_registry.hpp"
#include "capi/status_codes.hpp"
#include "capi/testing_hooks.hpp"
#include "runtime/kv_pool/block_pool.hpp"
#include "runtime/session.hpp"
#include "sampling/sampling_params.hpp"
#include "tokenizer/utf8.hpp"

namespace llama_worker::capi {
namespace {

lw_status validate_params(const char* function, const lw_sampling_params& params, int64_t context) {
  if (params.max_tokens < 1 || params.max_tokens > context) {
    return fail(function, LW_STATUS_INVALID_ARGUMENT,
                "max_tokens is " + std::to_string(params.max_tokens) + ": it must be in [1, " +
                    std::to_string(context) + "] (the model's context)");
  }
  if (params.chat != 0 && params.chat != 1) {
    return fail(function, LW_STATUS_INVALID_ARGUMENT,
                "chat is " + std::to_string(params.chat) + ": it must be 0 or 1");
  }
  sampling::SamplingParams sampling;
  sampling.temperature = params.temperature;
  sampling.top_k = params.top_k;
  sampling.top_p = params.top_p;
  sampling.min_p = params.min_p;
  sampling.repetition_penalty = params.repeat_penalty;
  sampling.repeat_last_n = params.repeat_last_n;
  sampling.seed = params.seed;
  const Status valid = sampling::validate(sampling);
  if (!valid) return fail(function, LW_STATUS_INVALID_ARGUMENT, valid.message());
  return LW_STATUS_OK;
}

runtime::GenerationOptions generation_options(const lw_sampling_params& params, const ModelState& model) {
  runtime::GenerationOptions options;
  options.max_tokens = params.max_tokens;
  options.sampling.temperature = params.temperature;
  options.sampling.top_k = params.top_k;
  options.sampling.top_p = params.top_p;
  options.sampling.min_p = params.min_p;
  options.sampling.repetition_penalty = params.repeat_penalty;
  options.sampling.repeat_last_n = params.repeat_last_n;
  options.sampling.seed = params.seed;
  options.chat = params.chat == 1;
  options.chat_template = model.chat_template;
  return options;
}

std::string hex(const void* handle) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", handle);
  return text;
}

// What a prompt is, for the shared part of the two start functions.
struct Prompt {
  const char* text = nullptr;       // start: NUL-terminated UTF-8
  std::span<const int32_t> tokens;  // start_tokens
  bool is_tokens = false;
};

// A model loaded with max_inferences >= 2: the inference is a sequence of the model's scheduler.
// The prompt is encoded as Generation encodes it; the limit and the shared KV cache are checked
// under the model lock (admission is quick: the scheduler's lock is never held across a step).
lw_status start_scheduled(const char* function, const Lookup<ModelState>& model, const Prompt& prompt,
                          const lw_sampling_params& params, cuda_inference** out_inference) {
  ModelState& state = *model.state;
  const runtime::GenerationOptions options = generation_options(params, state);
  std::vector<int32_t> tokens;
  if (prompt.is_tokens) {
    tokens.assign(prompt.tokens.begin(), prompt.tokens.end());
  } else {
    const runtime::Session encoder(*state.backend, *state.tokenizer);
    auto encoded = encoder.encode_prompt(prompt.text, options);
    if (!encoded) return fail(function, status_from_code(encoded.error().code), encoded.error().message);
    tokens = std::move(*encoded);
  }
  const int64_t capacity = state.backend->context_capacity();
  const auto prompt_size = static_cast<int64_t>(tokens.size());
  if (prompt_size == 0) return fail(function, LW_STATUS_EMPTY_PROMPT, "the prompt encodes to no tokens");
  if (options.max_tokens > capacity - prompt_size) {
    return fail(function, LW_STATUS_PROMPT_TOO_LONG,
                "the prompt (" + std::to_string(prompt_size) + " tokens) plus " +
                    std::to_string(options.max_tokens) + " tokens to generate exceed the context of " +
                    std::to_string(capacity) + " positions");
  }
  runtime::scheduler::SequenceOptions sequence_options;
  sequence_options.sampling = options.sampling;
  sequence_options.max_tokens = options.max_tokens;
  sequence_options.stop_tokens = state.stop_tokens;

  auto inference = std::make_shared<InferenceState>();
  inference->model = model.state;
  inference->model_id = model.id;
  inference->prompt_tokens = prompt_size;
  inference->decoder.emplace(*state.tokenizer, tokenizer::StreamingDecoder::Boundary::kGraphemeCluster,
                             tokenizer::DecodeOptions{.skip_special = true, .strip_dummy_prefix = false});
  std::lock_guard lock(state.mutex);
  if (state.live_inferences >= state.max_inferences) {
    return fail(function, LW_STATUS_INFERENCE_LIMIT,
                "the model already has " + std::to_string(state.live_inferences) +
                    " live inferences, its max_inferences; free one first (or load the model with a larger "
                    "max_inferences)");
  }
  auto sequence = state.scheduler->start(tokens, sequence_options);
  if (!sequence) {
    const Error& error = sequence.error();
    lw_status status = status_from_code(error.code);
    if (runtime::kv_pool::is_kv_pool_exhausted(error))
      status = LW_STATUS_KV_CACHE_FULL;
    else if (error.code == ErrorCode::kOutOfRange)
      status = LW_STATUS_PROMPT_TOO_LONG;
    return fail(function, status, error.message);
  }
  inference->sequence = *sequence;
  run_testing_hook(TestingPoint::kStartBeforeRegister);
  cuda_inference* handle = Registry::instance().add(inference);
  if (handle == nullptr) {
    return fail(function, LW_STATUS_INVALID_HANDLE,
                std::string("the model was freed while ") + function + " ran; no inference was started");
  }
  ++state.live_inferences;
  *out_inference = handle;
  return LW_STATUS_OK;
}

lw_status start_inference(const char* function, cuda_model* model_handle, const Prompt& prompt,
                          const lw_sampling_params* params_in, cuda_inference** out_inference) {
  Registry& registry = Registry::instance();
  auto model = registry.find(function, model_handle);
  if (model.status != LW_STATUS_OK) return model.status;
  ModelState& state = *model.state;
  if (lw_status usable = check_context_usable(function, *state.context); usable != LW_STATUS_OK)
    return usable;
  if (out_inference == nullptr) return fail(function, LW_STATUS_INVALID_ARGUMENT, "out_inference is NULL");
  const lw_sampling_params params = params_in != nullptr ? *params_in : cuda_default_sampling_params();
  const int64_t context = state.backend->context_capacity();
  if (lw_status valid = validate_params(function, params, context); valid != LW_STATUS_OK) return valid;

  if (prompt.is_tokens) {
    if (prompt.tokens.data() == nullptr && !prompt.tokens.empty()) {
      return fail(function, LW_STATUS_INVALID_ARGUMENT, "tokens is NULL");
    }
    if (prompt.tokens.empty())
      return fail(function, LW_STATUS_EMPTY_PROMPT, "the prompt has no tokens (token_count 0)");
    if (params.chat != 0) {
      return fail(function, LW_STATUS_INVALID_ARGUMENT,
                  "chat must be 0 for a prompt given as token ids (format the chat before tokenizing)");
    }
    // The count is checked against the context before any id is read: a count larger than the
    // caller's array must not make us read past it.
    const auto count = static_cast<uint64_t>(prompt.tokens.size());
    const auto capacity = static_cast<uint64_t>(context);
    if (count > capacity || static_cast<uint64_t>(params.max_tokens) > capacity - count) {
      return fail(function, LW_STATUS_PROMPT_TOO_LONG,
                  "the prompt (token_count " + std::to_string(count) + ") plus " +
                      std::to_string(params.max_tokens) + " tokens to generate exceed the context of " +
                      std::to_string(context) + " positions");
    }
    for (size_t i = 0; i < prompt.tokens.size(); ++i) {
      const int32_t id = prompt.tokens[i];
      if (id < 0 || id >= state.vocabulary) {
        return fail(function, LW_STATUS_TOKEN_OUT_OF_RANGE,
                    "token " + std::to_string(i) + " has id " + std::to_string(id) +
                        ", outside the vocabulary [0, " + std::to_string(state.vocabulary) + ")");
      }
    }
  } else {
    if (prompt.text == nullptr) return fail(function, LW_STATUS_INVALID_ARGUMENT, "prompt is NULL");
    if (prompt.text[0] == '\0') return fail(function, LW_STATUS_EMPTY_PROMPT, "the prompt is empty");
    const Status utf8 = tokenizer::validate_utf8(prompt.text);
    if (!utf8)
      return fail(function, LW_STATUS_INVALID_UTF8, "the prompt is not valid UTF-8: " + utf8.message());
    if (params.chat == 1 && state.chat_template.empty()) {
      return fail(function, LW_STATUS_UNSUPPORTED,
                  "chat = 1, but the model has no tokenizer.chat_template to take the chat format from");
    }
  }

  if (state.scheduler != nullptr) return start_scheduled(function, model, prompt, params, out_inference);

  std::lock_guard lock(state.mutex);
  if (state.live_inference != 0) {
    return fail(function, LW_STATUS_MODEL_BUSY,
                "the model already has a live inference (handle " +
                    hex(reinterpret_cast<const void*>(static_cast<uintptr_t>(state.live_inference))) +
                    "); a model has one KV cache: free that inference first, or load the model twice");
  }
  auto inference = std::make_shared<InferenceState>();
  inference->model = model.state;
  inference->model_id = model.id;
  inference->generation.emplace(*state.backend, *state.tokenizer, &inference->cancel);
  const runtime::GenerationOptions options = generation_options(params, state);
  const Status started = prompt.is_tokens ? inference->generation->start_tokens(prompt.tokens, options)
                                          : inference->generation->start(prompt.text, options);
  if (!started) {
    lw_status status = status_from_code(started.code());
    if (started.code() == ErrorCode::kOutOfRange) status = LW_STATUS_PROMPT_TOO_LONG;
    return fail(function, status, started.message());
  }
  run_testing_hook(TestingPoint::kStartBeforeRegister);
  cuda_inference* handle = registry.add(inference);
  if (handle == nullptr) {
    return fail(function, LW_STATUS_INVALID_HANDLE,
                std::string("the model was freed while ") + function + " ran; no inference was started");
  }
  state.live_inference = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(handle));
  *out_inference = handle;
  return LW_STATUS_OK;
}

lw_status step_failed(const char* function, InferenceState& inference, const Error& error) {
  ModelState& model = *inference.model;
  lw_status status = LW_STATUS_INTERNAL;
  if (error.code == ErrorCode::kCancelled) {
    status = fail(function, LW_STATUS_CANCELLED, error.message);
  } else if (inference.generation->failed_on_non_finite_logits()) {
    status = fail(function, LW_STATUS_NUMERIC_ERROR, error.message);
  } else if (error.code == ErrorCode::kOutOfMemory) {
    status = fail(
        function,
        model.backend_kind == LW_BACKEND_CUDA ? LW_STATUS_OUT_OF_DEVICE_MEMORY : LW_STATUS_OUT_OF_HOST_MEMORY,
        error.message);
  } else {
    status = device_work_failed(function, *model.context, error, status_from_code(error.code));
  }
  inference.failure = status;
  inference.failure_message = error.message;
  return status;
}

// A scheduler inference: the scheduler steps (or waits for the step running on another thread)
// without the model lock; this inference's own state is guarded by its own mutex.
lw_status next_scheduled(const Lookup<InferenceState>& inference, int32_t* out_token, const char** out_text,
                         size_t* out_text_length, int32_t* out_finished) {
  constexpr const char* kFunction = "cuda_inference_next_token";
  InferenceState& state = *inference.state;
  ModelState& model = *state.model;
  std::lock_guard lock(state.mutex);
  if (state.failure != LW_STATUS_OK) {
    return fail(kFunction, state.failure,
                state.failure == LW_STATUS_CANCELLED
                    ? "the inference was cancelled; free it"
                    : "the inference failed earlier; free it: " + state.failure_message);
  }
  if (state.stop_reason != runtime::StopReason::kNone) {
    return fail(kFunction, LW_STATUS_WRONG_ORDER,
                std::string("the generation has already finished (") +
                    runtime::stop_reason_name(state.stop_reason) +
                    "); free the inference and start a new one");
  }
  if (state.cancel.load()) (void)model.scheduler->cancel(*state.sequence);
  const auto begin = std::chrono::steady_clock::now();
  auto token = model.scheduler->next_token(*state.sequence);
  run_testing_hook(TestingPoint::kNextTokenAfterStep);
  if (!Registry::instance().is_registered(HandleKind::kInference, inference.id)) {
    return fail(kFunction, LW_STATUS_INVALID_HANDLE,
                "the inference (or its model or context) was freed while cuda_inference_next_token ran");
  }
  Result<std::string> text = std::string();
  if (token) {
    if (token->finished && token->stop_reason == runtime::StopReason::kEndOfGeneration) {
      text = state.decoder->finish();
    } else {
      text = state.decoder->push(token->token);
      if (text && token->finished) *text += state.decoder->finish();
    }
  }
  if (!token || !text) {
    const Error& error = !token ? token.error() : text.error();
    state.stop_reason =
        error.code == ErrorCode::kCancelled ? runtime::StopReason::kCancelled : runtime::StopReason::kFailed;
    state.failure_message = error.message;
    if (runtime::kv_pool::is_kv_pool_exhausted(error)) {
      state.failure = LW_STATUS_KV_CACHE_FULL;
    } else if (runtime::scheduler::is_non_finite_logits(error)) {
      state.failure = LW_STATUS_NUMERIC_ERROR;
    } else if (error.code == ErrorCode::kOutOfMemory) {
      state.failure = model.backend_kind == LW_BACKEND_CUDA ? LW_STATUS_OUT_OF_DEVICE_MEMORY
                                                            : LW_STATUS_OUT_OF_HOST_MEMORY;
    } else {
      // A device error of the batched step: sticky or not, as for a single inference's step.
      state.failure = device_work_failed(kFunction, *model.context, error, status_from_code(error.code));
      return state.failure;
    }
    return fail(kFunction, state.failure, error.message);
  }
  ++state.generated_tokens;
  if (token->finished) state.stop_reason = token->stop_reason;
  state.decode_ms +=
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
  return publish_or_freed(kFunction, HandleKind::kInference, inference.id, [&] {
    state.text = std::move(*text);
    *out_token = token->token;
    *out_text = state.text.c_str();
    *out_text_length = state.text.size();
    *out_finished = token->finished ? 1 : 0;
  });
}

lw_status next_token(cuda_inference* handle, int32_t* out_token, const char** out_text,
                     size_t* out_text_length, int32_t* out_finished) {
  constexpr const char* kFunction = "cuda_inference_next_token";
  auto inference = Registry::instance().find(kFunction, handle);
  if (inference.status != LW_STATUS_OK) return inference.status;
  InferenceState& state = *inference.state;
  ModelState& model = *state.model;
  if (lw_status usable = check_context_usable(kFunction, *model.context); usable != LW_STATUS_OK)
    return usable;
  if (out_token == nullptr || out_text == nullptr || out_text_length == nullptr || out_finished == nullptr) {
    return fail(kFunction, LW_STATUS_INVALID_ARGUMENT,
                "out_token, out_text, out_text_length and out_finished must all be non-NULL");
  }
  if (state.sequence) return next_scheduled(inference, out_token, out_text, out_text_length, out_finished);
  std::lock_guard lock(model.mutex);
  if (state.failure != LW_STATUS_OK) {
    return fail(kFunction, state.failure,
                state.failure == LW_STATUS_CANCELLED
                    ? "the inference was cancelled; free it"
                    : "the inference failed earlier; free it: " + state.failure_message);
  }
  runtime::Generation& generation = *state.generation;
  if (generation.finished()) {
    return fail(kFunction, LW_STATUS_WRONG_ORDER,
                std::string("the generation has already finished (") +
                    runtime::stop_reason_name(generation.stop_reason()) +
                    "); free the inference and start a new one");
  }
  if (lw_status selected = select_context_device(kFunction, *model.context); selected != LW_STATUS_OK)
    return selected;
  auto step = generation.next();
  run_testing_hook(TestingPoint::kNextTokenAfterStep);
  if (!step) {
    // A free cancels the running step: say that it was freed, not that it was cancelled.
    if (!Registry::instance().is_registered(HandleKind::kInference, inference.id)) {
      return fail(kFunction, LW_STATUS_INVALID_HANDLE,
                  "the inference (or its model or context) was freed while cuda_inference_next_token ran");
    }
    return step_failed(kFunction, state, step.error());
  }
  // The text lives in the inference: hand it out only while a free has not removed it.
  return publish_or_freed(kFunction, HandleKind::kInference, inference.id, [&] {
    state.text = std::move(step->text);
    *out_token = step->token;
    *out_text = state.text.c_str();
    *out_text_length = state.text.size();
    *out_finished = step->finished ? 1 : 0;
  });
}

lw_stop_reason to_c(runtime::StopReason reason) {
  switch (reason) {
    case runtime::StopReason::kNone:
      return LW_STOP_NONE;
    case runtime::StopReason::kEndOfGeneration:
      return LW_STOP_END_OF_GENERATION;
    case runtime::StopReason::kTokenLimit:
      return LW_STOP_TOKEN_LIMIT;
    case runtime::StopReason::kCancelled:
      return LW_STOP_CANCELLED;
    case runtime::StopReason::kFailed:
      return LW_STOP_FAILED;
  }
  return LW_STOP_FAILED;
}

}  // namespace
}  // namespace llama_worker::capi

using namespace llama_worker;
using namespace llama_worker::capi;

extern "C" {

lw_sampling_params cuda_default_sampling_params(void) {
  const sampling::SamplingParams defaults;
  lw_sampling_params params;
  params.temperature = defaults.temperature;
  params.top_k = defaults.top_k;
  params.top_p = defaults.top_p;
  params.min_p = defaults.min_p;
  params.repeat_penalty = defaults.repetition_penalty;
  params.repeat_last_n = defaults.repeat_last_n;
  params.seed = defaults.seed;
  params.max_tokens = 64;
  params.chat = 0;
  return params;
}

lw_status cuda_inference_start(cuda_model* model, const char* prompt, const lw_sampling_params* params,
                               cuda_inference** out_inference) {
  return guarded("cuda_inference_start", [&] {
    Prompt text;
    text.text = prompt;
    return start_inference("cuda_inference_start", model, text, params, out_inference);
  });
}

lw_status cuda_inference_start_tokens(cuda_model* model, const int32_t* tokens, size_t token_count,
                                      const lw_sampling_params* params, cuda_inference** out_inference) {
  return guarded("cuda_inference_start_tokens", [&] {
    Prompt ids;
    ids.is_tokens = true;
    ids.tokens = std::span<const int32_t>(tokens, tokens != nullptr ? token_count : 0);
    if (tokens == nullptr && token_count > 0) {
      return fail("cuda_inference_start_tokens", LW_STATUS_INVALID_ARGUMENT,
                  "tokens is NULL but token_count is " + std::to_string(token_count));
    }
    return start_inference("cuda_inference_start_tokens", model, ids, params, out_inference);
  });
}

lw_status cuda_inference_next_token(cuda_inference* inference, int32_t* out_token, const char** out_text,
                                    size_t* out_text_length, int32_t* out_finished) {
  return guarded("cuda_inference_next_token",
                 [&] { return next_token(inference, out_token, out_text, out_text_length, out_finished); });
}

lw_status cuda_inference_cancel(cuda_inference* inference_handle) {
  return guarded("cuda_inference_cancel", [&]() -> lw_status {
    auto inference = Registry::instance().find("cuda_inference_cancel", inference_handle);
    if (inference.status != LW_STATUS_OK) return inference.status;
    inference.state->cancel.store(true);
    // A scheduler inference stops at once: its buffered tokens are dropped and its blocks go back
    // (after the running step, if it is in one). The scheduler's lock is never held across a step.
    if (inference.state->sequence)
      (void)inference.state->model->scheduler->cancel(*inference.state->sequence);
    return LW_STATUS_OK;
  });
}

lw_status cuda_inference_get_stats(cuda_inference* inference_handle, lw_inference_stats* out_stats) {
  return guarded("cuda_inference_get_stats", [&]() -> lw_status {
    constexpr const char* kFunction = "cuda_inference_get_stats";
    auto inference = Registry::instance().find(kFunction, inference_handle);
    if (inference.status != LW_STATUS_OK) return inference.status;
    ModelState& model = *inference.state->model;
    if (lw_status usable = check_context_usable(kFunction, *model.context); usable != LW_STATUS_OK)
      return usable;
    if (out_stats == nullptr) return fail(kFunction, LW_STATUS_INVALID_ARGUMENT, "out_stats is NULL");
    if (inference.state->sequence) {
      InferenceState& state = *inference.state;
      lw_inference_stats stats{};
      {
        std::lock_guard lock(state.mutex);
        stats.prompt_tokens = state.prompt_tokens;
        stats.generated_tokens = state.generated_tokens;
        stats.stop_reason = to_c(state.stop_reason);
        stats.finished = state.stop_reason != runtime::StopReason::kNone ? 1 : 0;
        stats.prefill_ms = 0;  // the prefill runs inside the shared steps: counted in decode_ms
        stats.decode_ms = state.decode_ms;
      }
      return publish_or_freed(kFunction, HandleKind::kInference, inference.id, [&] { *out_stats = stats; });
    }
    std::lock_guard lock(model.mutex);
    const runtime::Generation& generation = *inference.state->generation;
    lw_inference_stats stats;
    stats.prompt_tokens = static_cast<int64_t>(generation.prompt_tokens().size());
    stats.generated_tokens = static_cast<int64_t>(generation.generated_tokens().size());
    stats.stop_reason = to_c(generation.stop_reason());
    stats.finished = generation.finished() ? 1 : 0;
    stats.prefill_ms = generation.prefill_ms();
    stats.decode_ms = generation.decode_ms();
    return publish_or_freed(kFunction, HandleKind::kInference, inference.id, [&] { *out_stats = stats; });
  });
}

lw_status cuda_inference_free(cuda_inference* inference_handle) {
  return guarded("cuda_inference_free", [&]() -> lw_status {
    auto inference = Registry::instance().find("cuda_inference_free", inference_handle);
    if (inference.status != LW_STATUS_OK) return inference.status;
    Registry::Removed removed = Registry::instance().remove_inference(inference.id);
    if (removed.inferences.empty()) return freed_meanwhile("cuda_inference_free", "inference");
    std::shared_ptr<ModelState> model = inference.state->model;
    if (inference.state->sequence) {
      // Frees the slot and the blocks now (mid-step: after the step); a next_token running on
      // another thread returns after at most one step and sees the handle gone.
      (void)model->scheduler->release(*inference.state->sequence);
      std::lock_guard lock(model->mutex);
      --model->live_inferences;
      return LW_STATUS_OK;
    }
    {
      std::lock_guard lock(model->mutex);
      if (model->live_inference == inference.id) model->live_inference = 0;
    }
    return LW_STATUS_OK;
  });
}

}  // extern "C"
