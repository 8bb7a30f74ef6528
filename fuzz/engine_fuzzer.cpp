// libFuzzer harness: the whole engine through the C API (llama_worker.h) on the CPU backend, with
// tiny synthetic models (engine/capi/tests/test_model.hpp: phi3 shapes, F32 random weights, 2
// layers, width 24, context 256) that carry real vocabularies: Phi-3-mini (SentencePiece with
// byte fallback, Phi-3 chat template) and Qwen2.5 (byte-level BPE, ChatML). The models are
// written once per process into a temporary directory and loaded once; every input then starts,
// steps and frees one inference.
//
// Input: byte 0 = flags
//   bit 0    model: 0 phi3 vocabulary, 1 qwen2.5 vocabulary
//   bit 1    chat (text prompts only)
//   bit 2    raw parameters: the next 36 bytes are the lw_sampling_params fields as raw bits
//            (NaN, infinities, negatives, huge max_tokens ...); else 12 bytes mapped into
//            valid ranges (so that most inputs generate)
//   bit 3    prompt as token ids (int32 little endian; mapped inputs fold them into
//            [-4, vocab + 4))
//   bits 4-5 max_tokens - 1 (mapped parameters: 1..4)
//   bit 6    cancel after the first token
//   bit 7    start a second inference while the first is live (must be MODEL_BUSY)
// the rest is the prompt (text: up to the first NUL, as a C string would be).
//
// Invariants (a broken one aborts, which is how a harness reports a finding):
//   - every call returns a status of the documented set; never LW_STATUS_INTERNAL;
//   - start: INVALID_UTF8 exactly when the prompt is ill-formed UTF-8 (checked by an independent
//     validator below), EMPTY_PROMPT exactly when it is empty, TOKEN_OUT_OF_RANGE exactly when an
//     id is outside [0, vocab); mapped (valid) parameters are never INVALID_ARGUMENT;
//   - every token is in [0, vocab); every piece of text is NUL-terminated, as long as reported
//     and valid UTF-8; the generation finishes within max_tokens steps; after it finishes
//     next_token answers WRONG_ORDER; stats agree with what was returned;
//   - a cancelled inference answers CANCELLED; a second start on a model with a live inference
//     answers MODEL_BUSY; after free, the model takes a new inference (never busy).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "capi/tests/test_model.hpp"
#include "llama_worker.h"

namespace {

[[noreturn]] void fail(const char* what, lw_status status) {
  std::fprintf(stderr, "engine fuzzer: %s (status %s: %s)\n", what, cuda_status_name(status),
               cuda_last_error());
  std::abort();
}

void check(bool condition, const char* what, lw_status status = LW_STATUS_OK) {
  if (!condition) fail(what, status);
}

// RFC 3629 well-formedness, written independently of the engine's tokenizer/utf8.hpp.
bool well_formed_utf8(const uint8_t* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const uint8_t b = s[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t cp;
    if ((b & 0xE0) == 0xC0) {
      length = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      length = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      length = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + length > n) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((length == 2 && cp < 0x80) || (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000))
      return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

struct Engine {
  cuda_context* context = nullptr;
  cuda_model* models[2] = {nullptr, nullptr};
  int64_t vocab[2] = {0, 0};
};

std::string vocabulary_directory() {
  if (const char* env = std::getenv("LLAMA_WORKER_VOCAB_DIR"); env != nullptr && *env != '\0') return env;
  return LLAMA_WORKER_FUZZ_VOCAB_DIR;
}

const Engine& engine() {
  static const Engine loaded = [] {
    Engine e;
    namespace fs = std::filesystem;
    const fs::path directory = fs::temp_directory_path() / ("lw_engine_fuzzer_" + std::to_string(getpid()));
    fs::create_directories(directory);
    const char* vocabularies[2] = {"phi-3-mini-4k-instruct", "qwen2.5-0.5b-instruct"};
    if (cuda_init(LW_DEVICE_CPU, &e.context) != LW_STATUS_OK)
      fail("cuda_init(LW_DEVICE_CPU) failed", LW_STATUS_OK);
    for (int m = 0; m < 2; ++m) {
      const std::string vocabulary = vocabulary_directory() + "/" + vocabularies[m] + ".vocab.gguf";
      const std::string path = (directory / (std::string(vocabularies[m]) + ".gguf")).string();
      const llama_worker::Status written = llama_worker::capi::testing::write_test_model(vocabulary, path);
      if (!written) {
        std::fprintf(stderr,
                     "engine fuzzer: cannot write the model for %s (set LLAMA_WORKER_VOCAB_DIR): %s\n",
                     vocabulary.c_str(), written.message().c_str());
        std::abort();
      }
      lw_model_options options = cuda_default_model_options();
      options.backend = LW_BACKEND_CPU;
      options.cpu_threads = 1;
      const lw_status loaded_status = cuda_load_model(e.context, path.c_str(), &options, &e.models[m]);
      check(loaded_status == LW_STATUS_OK, "the fuzz model does not load", loaded_status);
      lw_model_info info;
      check(cuda_model_get_info(e.models[m], &info) == LW_STATUS_OK, "cuda_model_get_info failed");
      e.vocab[m] = info.vocab_size;
    }
    std::error_code ignored;
    fs::remove_all(directory, ignored);  // the models are mapped: the files may go
    return e;
  }();
  return loaded;
}

// Reads little-endian values from the input, zero past its end.
struct Reader {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  uint8_t byte() { return at < size ? data[at++] : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(byte()) << (8 * i);
    return v;
  }
  uint64_t u64() { return u32() | (static_cast<uint64_t>(u32()) << 32); }
  float f32() {
    const uint32_t bits = u32();
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
};

bool is_documented_start_status(lw_status s) {
  switch (s) {
    case LW_STATUS_OK:
    case LW_STATUS_INVALID_ARGUMENT:
    case LW_STATUS_EMPTY_PROMPT:
    case LW_STATUS_INVALID_UTF8:
    case LW_STATUS_TOKEN_OUT_OF_RANGE:
    case LW_STATUS_PROMPT_TOO_LONG:
    case LW_STATUS_UNSUPPORTED:
      return true;
    default:
      return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Engine& e = engine();
  Reader in{data, size};
  const uint8_t flags = in.byte();
  const int m = flags & 1;
  const bool chat = (flags & 2) != 0;
  const bool raw = (flags & 4) != 0;
  const bool as_tokens = (flags & 8) != 0;
  const bool cancel_after_first = (flags & 64) != 0;
  const bool second_start = (flags & 128) != 0;
  cuda_model* model = e.models[m];
  const int64_t vocab = e.vocab[m];

  lw_sampling_params params = cuda_default_sampling_params();
  if (raw) {
    params.temperature = in.f32();
    params.top_k = static_cast<int32_t>(in.u32());
    params.top_p = in.f32();
    params.min_p = in.f32();
    params.repeat_penalty = in.f32();
    params.repeat_last_n = static_cast<int32_t>(in.u32());
    params.seed = in.u64();
    params.max_tokens = static_cast<int32_t>(in.u32());
    params.chat = static_cast<int32_t>(in.u32());
    if (as_tokens) params.chat = 0;  // keep the token path reachable
  } else {
    params.temperature = static_cast<float>(in.byte()) / 64.0f;             // [0, 4)
    params.top_k = in.byte();                                               // 0..255
    params.top_p = static_cast<float>(in.byte() + 1) / 256.0f;              // (0, 1]
    params.min_p = static_cast<float>(in.byte()) / 510.0f;                  // [0, 0.5]
    params.repeat_penalty = 0.5f + static_cast<float>(in.byte()) / 128.0f;  // [0.5, 2.5)
    params.repeat_last_n = static_cast<int32_t>(in.byte()) - 1;             // -1..254
    params.seed = in.u32();
    params.max_tokens = 1 + ((flags >> 4) & 3);  // 1..4
    params.chat = chat && !as_tokens ? 1 : 0;
  }
  const uint8_t* prompt_bytes = data + std::min(in.at, size);
  const size_t prompt_size = size - std::min(in.at, size);

  cuda_inference* inference = nullptr;
  lw_status status;
  bool expect_out_of_range = false;
  bool expect_empty = false;
  bool expect_bad_utf8 = false;
  std::vector<int32_t> ids;
  if (as_tokens) {
    for (size_t i = 0; i + 4 <= prompt_size && ids.size() < 300; i += 4) {
      int32_t id;
      std::memcpy(&id, prompt_bytes + i, 4);
      if (!raw) id = static_cast<int32_t>(static_cast<int64_t>(static_cast<uint32_t>(id) % (vocab + 8)) - 4);
      if (id < 0 || id >= vocab) expect_out_of_range = true;
      ids.push_back(id);
    }
    expect_empty = ids.empty();
    status = cuda_inference_start_tokens(model, ids.data(), ids.size(), &params, &inference);
  } else {
    const size_t length = strnlen(reinterpret_cast<const char*>(prompt_bytes), prompt_size);
    const std::string prompt(reinterpret_cast<const char*>(prompt_bytes), length);
    expect_empty = prompt.empty();
    expect_bad_utf8 = !well_formed_utf8(reinterpret_cast<const uint8_t*>(prompt.data()), prompt.size());
    status = cuda_inference_start(model, prompt.c_str(), &params, &inference);
  }
  check(is_documented_start_status(status), "start returned an undocumented status", status);
  check(status != LW_STATUS_MODEL_BUSY, "the model is busy although every inference was freed", status);
  if (!raw) {
    check(status != LW_STATUS_INVALID_ARGUMENT, "valid parameters were rejected", status);
    if (expect_empty) check(status == LW_STATUS_EMPTY_PROMPT, "an empty prompt was not EMPTY_PROMPT", status);
    if (!expect_empty && as_tokens) {
      check((status == LW_STATUS_TOKEN_OUT_OF_RANGE) == expect_out_of_range,
            "TOKEN_OUT_OF_RANGE does not match the ids", status);
    }
    if (!expect_empty && !as_tokens) {
      check((status == LW_STATUS_INVALID_UTF8) == expect_bad_utf8, "INVALID_UTF8 does not match the prompt",
            status);
    }
  }
  if (status != LW_STATUS_OK) {
    check(inference == nullptr, "a failed start wrote its out-parameter", status);
    return 0;
  }
  check(!expect_bad_utf8 && !expect_out_of_range && !expect_empty, "a bad prompt was accepted");

  if (second_start) {
    cuda_inference* second = nullptr;
    const lw_sampling_params defaults = cuda_default_sampling_params();
    const lw_status busy = cuda_inference_start(model, "second", &defaults, &second);
    check(busy == LW_STATUS_MODEL_BUSY && second == nullptr, "a second live inference was not MODEL_BUSY",
          busy);
  }

  // A few tokens each: raw parameters may ask for up to the whole context; stop stepping after 8
  // (freeing a generation mid-way is part of the contract too).
  const int64_t steps = std::min<int64_t>(params.max_tokens, 8) + 1;
  int64_t produced = 0;
  bool finished_seen = false;
  for (int64_t step = 0; step < steps; ++step) {
    int32_t token = -1, finished = 0;
    const char* text = nullptr;
    size_t length = 0;
    const lw_status next = cuda_inference_next_token(inference, &token, &text, &length, &finished);
    if (finished_seen) {
      check(next == LW_STATUS_WRONG_ORDER, "next_token after the end was not WRONG_ORDER", next);
      break;
    }
    if (cancel_after_first && produced == 1) {
      check(next == LW_STATUS_CANCELLED, "a cancelled inference did not answer CANCELLED", next);
      break;
    }
    // NUMERIC_ERROR cannot happen with these finite weights; anything but OK is a finding.
    check(next == LW_STATUS_OK, "next_token failed on a valid inference", next);
    check(token >= 0 && token < vocab, "a token outside the vocabulary");
    check(text != nullptr && std::strlen(text) == length, "the text length does not match");
    check(well_formed_utf8(reinterpret_cast<const uint8_t*>(text), length),
          "a piece of text is not valid UTF-8");
    ++produced;
    check(produced <= params.max_tokens, "more tokens than max_tokens");
    if (finished) finished_seen = true;
    if (cancel_after_first && produced == 1 && !finished) {
      check(cuda_inference_cancel(inference) == LW_STATUS_OK, "cancel failed");
    }
  }
  lw_inference_stats stats;
  check(cuda_inference_get_stats(inference, &stats) == LW_STATUS_OK, "get_stats failed");
  check(stats.generated_tokens == produced, "stats disagree with the tokens returned");
  if (finished_seen) check(stats.finished == 1, "stats say unfinished after the last token");
  check(cuda_inference_free(inference) == LW_STATUS_OK, "free failed");
  check(cuda_inference_free(inference) == LW_STATUS_INVALID_HANDLE, "a double free was not INVALID_HANDLE");
  return 0;
}
