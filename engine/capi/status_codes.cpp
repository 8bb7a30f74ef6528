#include "capi/status_codes.hpp"

#include <string>

namespace llama_worker::capi {
namespace {

thread_local std::string last_error;

struct StatusText {
  const char* name;
  const char* description;
};

// Indexed by lw_status value; the static_assert below keeps it in step with the header.
constexpr StatusText kStatusTexts[] = {
    {"LW_STATUS_OK", "success"},
    {"LW_STATUS_NULL_HANDLE", "a handle argument is NULL"},
    {"LW_STATUS_INVALID_HANDLE", "the handle was freed, never issued, or is of another kind"},
    {"LW_STATUS_WRONG_ORDER", "the call is out of sequence"},
    {"LW_STATUS_INVALID_ARGUMENT", "an argument has an invalid value"},
    {"LW_STATUS_EMPTY_PROMPT", "the prompt is empty"},
    {"LW_STATUS_INVALID_UTF8", "the prompt is not valid UTF-8"},
    {"LW_STATUS_TOKEN_OUT_OF_RANGE", "a token id is outside the vocabulary"},
    {"LW_STATUS_PROMPT_TOO_LONG", "the prompt plus the tokens to generate exceed the context"},
    {"LW_STATUS_FILE_NOT_FOUND", "the model file does not exist"},
    {"LW_STATUS_IS_DIRECTORY", "the model path is a directory"},
    {"LW_STATUS_IO_ERROR", "the model file cannot be opened or read"},
    {"LW_STATUS_MALFORMED_FILE", "the model file is not a valid GGUF model"},
    {"LW_STATUS_UNSUPPORTED_ARCHITECTURE", "the model's architecture is not supported"},
    {"LW_STATUS_UNSUPPORTED", "the request is valid but not supported"},
    {"LW_STATUS_OUT_OF_DEVICE_MEMORY", "out of device memory"},
    {"LW_STATUS_OUT_OF_HOST_MEMORY", "out of host memory"},
    {"LW_STATUS_NO_DEVICE", "no CUDA device with that index"},
    {"LW_STATUS_DEVICE_ERROR", "a CUDA call failed"},
    {"LW_STATUS_DEVICE_FAILED", "the device hit an unrecoverable error; restart the process"},
    {"LW_STATUS_MODEL_BUSY", "the model already has a live inference (API 1; no longer returned)"},
    {"LW_STATUS_CANCELLED", "the inference was cancelled"},
    {"LW_STATUS_NOT_BUILT_WITH_CUDA", "llama-worker was built without CUDA"},
    {"LW_STATUS_NUMERIC_ERROR", "the model produced NaN or infinite logits"},
    {"LW_STATUS_INTERNAL", "internal error in llama-worker"},
    {"LW_STATUS_INFERENCE_LIMIT", "the model already has max_inferences live inferences"},
    {"LW_STATUS_KV_CACHE_FULL", "the model's KV cache has no free blocks for the inference"},
};
static_assert(sizeof(kStatusTexts) / sizeof(kStatusTexts[0]) == LW_STATUS_COUNT);
static_assert(LW_STATUS_KV_CACHE_FULL == LW_STATUS_COUNT - 1);

const StatusText* find_text(lw_status status) {
  const int value = static_cast<int>(status);
  if (value < 0 || value >= LW_STATUS_COUNT) return nullptr;
  return &kStatusTexts[value];
}

}  // namespace

lw_status fail(const char* function, lw_status status, const std::string& message) {
  try {
    last_error = std::string(function) + ": " + message;
  } catch (...) {
    last_error.clear();  // out of memory while reporting: the status still says what happened
  }
  return status;
}

lw_status status_from_code(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return LW_STATUS_OK;
    case ErrorCode::kInvalidArgument:
      return LW_STATUS_INVALID_ARGUMENT;
    case ErrorCode::kNotFound:
      return LW_STATUS_MALFORMED_FILE;  // a key or tensor the file lacks
    case ErrorCode::kIoError:
      return LW_STATUS_IO_ERROR;
    case ErrorCode::kMalformedFile:
      return LW_STATUS_MALFORMED_FILE;
    case ErrorCode::kUnsupported:
      return LW_STATUS_UNSUPPORTED;
    case ErrorCode::kOutOfMemory:
      return LW_STATUS_OUT_OF_HOST_MEMORY;
    case ErrorCode::kDeviceError:
      return LW_STATUS_DEVICE_ERROR;
    case ErrorCode::kOutOfRange:
      return LW_STATUS_INVALID_ARGUMENT;
    case ErrorCode::kCancelled:
      return LW_STATUS_CANCELLED;
    case ErrorCode::kInternal:
      return LW_STATUS_INTERNAL;
  }
  return LW_STATUS_INTERNAL;
}

}  // namespace llama_worker::capi

extern "C" {

const char* cuda_status_name(lw_status status) {
  const auto* text = llama_worker::capi::find_text(status);
  return text != nullptr ? text->name : "LW_STATUS_UNKNOWN";
}

const char* cuda_status_string(lw_status status) {
  const auto* text = llama_worker::capi::find_text(status);
  return text != nullptr ? text->description : "unknown status code";
}

const char* cuda_last_error(void) { return llama_worker::capi::last_error.c_str(); }

int32_t cuda_api_version(void) { return LW_API_VERSION; }

}  // extern "C"
