// C API entry points for contexts and models: cuda_init / cuda_free, cuda_load_model /
// cuda_model_free, cuda_model_get_info, cuda_check_vram_residency, default options.
//
// cuda_load_model checks in the order that gives each bad request its own status: arguments and
// options, then the path (missing, directory), the GGUF structure, the architecture, the
// hyperparameters, the tokenizer metadata, and only then the backend (memory plan and upload).
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "capi/device_glue.hpp"
#include "capi/entry_helpers.hpp"
#include "capi/handle_registry.hpp"
#include "capi/status_codes.hpp"
#include "capi/testing_hooks.hpp"
#include "model/architecture.hpp"
#include "model/config.hpp"
#include "runtime/cpu_backend.hpp"
#include "tokenizer/tokenizer_from_gguf.hpp"

namespace llama_worker::capi {
namespace {

constexpr int64_t kDefaultUploadChunk = int64_t{1} << 20;
constexpr int64_t kMinUploadChunk = int64_t{4} << 10;
constexpr int64_t kMaxUploadChunk = int64_t{1} << 30;
constexpr int32_t kMaxCpuThreads = 4096;

void copy_text(char* destination, size_t capacity, const std::string& text) {
  const size_t length = text.size() < capacity - 1 ? text.size() : capacity - 1;
  std::memcpy(destination, text.data(), length);
  destination[length] = '\0';
}

constexpr int32_t kMaxInferences = 256;

lw_status validate_model_options(const char* function, const lw_model_options& options) {
  if (options.backend != LW_BACKEND_CUDA && options.backend != LW_BACKEND_CPU) {
    return fail(function, LW_STATUS_INVALID_ARGUMENT,
                "options.backend is " + std::to_string(options.backend) +
                    ": it must be LW_BACKEND_CUDA (0) or LW_BACKEND_CPU (1)");
  }
  if (options.cpu_threads < 0 || options.cpu_threads > kMaxCpuThreads) {
    return fail(function, LW_STATUS_INVALID_ARGUMENT,
                "options.cpu_threads is " + std::to_string(options.cpu_threads) + ": it must be in [0, " +
                    std::to_string(kMaxCpuThreads) + "] (0 = all cores)");
  }
  if (options.context_length < 0) {
    return fail(function, LW_STATUS_INVALID_ARGUMENT,
                "options.context_length is " + std::to_string(options.context_length) +
                    ": it must be >= 0 (0 = the model's context, at most 4096)");
  }
  if (options.vram_budget_bytes < 0) {
    return fail(function, LW_STATUS_INVALID_ARGUMENT,
                "options.vram_budget_bytes is " + std::to_string(options.vram_budget_bytes) +
                    ": it must be >= 0 (0 = no budget beyond free memory)");
  }
  if (options.upload_chunk_bytes != 0 &&
      (options.upload_chunk_bytes < kMinUploadChunk || options.upload_chunk_bytes > kMaxUploadChunk)) {
    return fail(function, LW_STATUS_INVALID_ARGUMENT,
                "options.upload_chunk_bytes is " + std::to_string(options.upload_chunk_bytes) +
                    ": it must be 0 (1 MiB) or in [4096, 1073741824]");
  }
  if (options.max_inferences < 0 || options.max_inferences > kMaxInferences) {
    return fail(function, LW_STATUS_INVALID_ARGUMENT,
                "options.max_inferences is " + std::to_string(options.max_inferences) +
                    ": it must be in [0, " + std::to_string(kMaxInferences) +
                    "] (0 or 1 = one inference at a time)");
  }
  return LW_STATUS_OK;
}

// The file's errors, read before any backend exists: a missing key or tensor, a bad size or an
// out-of-range value all mean the file is not a model this engine can read.
lw_status file_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kIoError:
      return LW_STATUS_IO_ERROR;
    case ErrorCode::kUnsupported:
      return LW_STATUS_UNSUPPORTED;
    case ErrorCode::kOutOfMemory:
      return LW_STATUS_OUT_OF_HOST_MEMORY;
    case ErrorCode::kInternal:
      return LW_STATUS_INTERNAL;
    default:
      return LW_STATUS_MALFORMED_FILE;
  }
}

// Backend creation: the requested context beyond the model's is the caller's mistake; memory
// means device memory on the CUDA backend.
lw_status backend_status(ErrorCode code, lw_backend kind) {
  switch (code) {
    case ErrorCode::kOutOfMemory:
      return kind == LW_BACKEND_CUDA ? LW_STATUS_OUT_OF_DEVICE_MEMORY : LW_STATUS_OUT_OF_HOST_MEMORY;
    case ErrorCode::kOutOfRange:
      return LW_STATUS_INVALID_ARGUMENT;
    case ErrorCode::kDeviceError:
      return LW_STATUS_DEVICE_ERROR;
    case ErrorCode::kCancelled:
      return LW_STATUS_CANCELLED;
    default:
      return file_status(code);
  }
}

lw_status check_path(const char* function, const std::string& path) {
  if (path.empty()) return fail(function, LW_STATUS_FILE_NOT_FOUND, "the model path is empty");
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) {
    return fail(function, LW_STATUS_FILE_NOT_FOUND, "model file '" + path + "' does not exist");
  }
  if (error) {
    return fail(function, LW_STATUS_IO_ERROR, "cannot examine model file '" + path + "': " + error.message());
  }
  if (status.type() == std::filesystem::file_type::directory) {
    return fail(function, LW_STATUS_IS_DIRECTORY,
                "model path '" + path + "' is a directory, not a GGUF file");
  }
  if (status.type() != std::filesystem::file_type::regular) {
    // A FIFO would block the open, a device has no size to map.
    return fail(function, LW_STATUS_IO_ERROR, "model path '" + path + "' is not a regular file");
  }
  return LW_STATUS_OK;
}

lw_status load_model(cuda_context* context_handle, const char* path_text, const lw_model_options* options_in,
                     cuda_model** out_model) {
  constexpr const char* kFunction = "cuda_load_model";
  Registry& registry = Registry::instance();
  auto context = registry.find(kFunction, context_handle);
  if (context.status != LW_STATUS_OK) return context.status;
  if (lw_status usable = check_context_usable(kFunction, *context.state); usable != LW_STATUS_OK)
    return usable;
  if (out_model == nullptr) return fail(kFunction, LW_STATUS_INVALID_ARGUMENT, "out_model is NULL");
  if (path_text == nullptr) return fail(kFunction, LW_STATUS_INVALID_ARGUMENT, "path is NULL");
  const lw_model_options options = options_in != nullptr ? *options_in : cuda_default_model_options();
  if (lw_status valid = validate_model_options(kFunction, options); valid != LW_STATUS_OK) return valid;
  const auto kind = static_cast<lw_backend>(options.backend);
  if (kind == LW_BACKEND_CUDA) {
    if (!built_with_cuda()) {
      return fail(kFunction, LW_STATUS_NOT_BUILT_WITH_CUDA,
                  "LW_BACKEND_CUDA requested, but llama-worker was built without CUDA; use LW_BACKEND_CPU");
    }
    if (context.state->device < 0) {
      return fail(kFunction, LW_STATUS_INVALID_ARGUMENT,
                  "LW_BACKEND_CUDA requested on a context created with LW_DEVICE_CPU; use LW_BACKEND_CPU or "
                  "cuda_init with a device index");
    }
  }

  const std::string path(path_text);
  if (lw_status found = check_path(kFunction, path); found != LW_STATUS_OK) return found;
  auto file = gguf::File::open(path);
  if (!file) {
    const lw_status status =
        file.error().code == ErrorCode::kNotFound ? LW_STATUS_FILE_NOT_FOUND : file_status(file.error().code);
    return fail(kFunction, status, file.error().message);
  }
  auto state = std::make_shared<ModelState>();
  state->file = std::make_unique<gguf::File>(std::move(*file));
  const gguf::File& gguf_file = *state->file;

  auto architecture = gguf_file.architecture();
  if (!architecture)
    return fail(kFunction, LW_STATUS_MALFORMED_FILE, path + ": " + architecture.error().message);
  if (auto traits = model::find_architecture(*architecture); !traits) {
    return fail(kFunction, LW_STATUS_UNSUPPORTED_ARCHITECTURE, path + ": " + traits.error().message);
  }
  auto config = model::load_model_config(gguf_file);
  if (!config) return fail(kFunction, file_status(config.error().code), path + ": " + config.error().message);
  if (options.context_length > config->context_length) {
    return fail(kFunction, LW_STATUS_INVALID_ARGUMENT,
                "options.context_length " + std::to_string(options.context_length) +
                    " exceeds the context of " + std::to_string(config->context_length) +
                    " positions the model '" + path + "' was trained for");
  }
  auto tokenizer = tokenizer::tokenizer_from_gguf(gguf_file);
  if (!tokenizer) {
    return fail(kFunction, file_status(tokenizer.error().code),
                path + ": the tokenizer metadata cannot be used: " + tokenizer.error().message);
  }
  state->tokenizer.emplace(std::move(*tokenizer));
  if (gguf_file.has("tokenizer.chat_template")) {
    auto chat_template = gguf_file.get<std::string>("tokenizer.chat_template");
    if (!chat_template)
      return fail(kFunction, LW_STATUS_MALFORMED_FILE, path + ": " + chat_template.error().message);
    state->chat_template = std::move(*chat_template);
  }

  if (kind == LW_BACKEND_CUDA) {
    if (lw_status selected = select_context_device(kFunction, *context.state); selected != LW_STATUS_OK)
      return selected;
    CudaLoadOptions cuda;
    cuda.device = context.state->device;
    cuda.context = options.context_length;
    cuda.vram_budget_bytes = options.vram_budget_bytes;
    cuda.upload_chunk_bytes =
        options.upload_chunk_bytes != 0 ? options.upload_chunk_bytes : kDefaultUploadChunk;
    auto backend = create_cuda_backend(gguf_file, cuda);
    if (!backend) {
      return device_work_failed(kFunction, *context.state, backend.error(),
                                backend_status(backend.error().code, kind));
    }
    state->backend = std::move(*backend);
  } else {
    runtime::CpuBackendOptions cpu;
    cpu.threads = options.cpu_threads;
    cpu.context = options.context_length;
    auto backend = runtime::CpuBackend::create(gguf_file, cpu);
    if (!backend) return fail(kFunction, backend_status(backend.error().code, kind), backend.error().message);
    state->backend = std::move(*backend);
  }
  if (options.max_inferences >= 2) {
    auto* batched = dynamic_cast<runtime::BatchedInferenceBackend*>(state->backend.get());
    if (batched == nullptr) {
      return fail(kFunction, LW_STATUS_UNSUPPORTED,
                  "options.max_inferences is " + std::to_string(options.max_inferences) +
                      ": this backend has no batched forward; use max_inferences 1");
    }
    runtime::scheduler::SchedulerOptions scheduling;
    scheduling.max_sequences = options.max_inferences;
    scheduling.kv_blocks = testing_kv_blocks();
    auto scheduler = runtime::scheduler::Scheduler::create(*batched, scheduling);
    if (!scheduler) {
      return fail(kFunction, backend_status(scheduler.error().code, kind),
                  "the shared KV cache for max_inferences " + std::to_string(options.max_inferences) +
                      " cannot be allocated: " + scheduler.error().message);
    }
    state->scheduler = std::move(*scheduler);
    state->max_inferences = options.max_inferences;
    for (int32_t id = 0; id < static_cast<int32_t>(state->tokenizer->size()); ++id) {
      if (state->tokenizer->is_end_of_generation(id)) state->stop_tokens.push_back(id);
    }
  }
  state->backend_kind = kind;
  const int64_t model_vocabulary = state->backend->config().vocab_size;
  const int64_t tokenizer_vocabulary = state->tokenizer->size();
  state->vocabulary = model_vocabulary < tokenizer_vocabulary ? model_vocabulary : tokenizer_vocabulary;
  state->context = context.state;
  state->context_id = context.id;
  run_testing_hook(TestingPoint::kLoadBeforeRegister);
  cuda_model* handle = registry.add(state);
  if (handle == nullptr) {
    // cuda_free(context) ran meanwhile: the model is released here (its device current on this
    // thread) instead of living on unreachable.
    state.reset();
    return fail(kFunction, LW_STATUS_INVALID_HANDLE,
                "the context was freed while cuda_load_model ran; the model was released, not kept");
  }
  *out_model = handle;
  return LW_STATUS_OK;
}

// Frees removed objects with the device current (CUDA frees and stream destruction).
void release(Registry::Removed removed, int device) {
  if (device >= 0) (void)select_device(device);
  removed.inferences.clear();
  removed.models.clear();
  removed.contexts.clear();
}

}  // namespace

lw_status mark_context_failed_for_testing(cuda_context* context_handle, const std::string& message) {
  auto context = Registry::instance().find("mark_context_failed_for_testing", context_handle);
  if (context.status != LW_STATUS_OK) return context.status;
  context.state->mark_failed(message);
  return LW_STATUS_OK;
}

}  // namespace llama_worker::capi

using namespace llama_worker;
using namespace llama_worker::capi;

extern "C" {

lw_model_options cuda_default_model_options(void) {
  lw_model_options options;
  options.backend = LW_BACKEND_CUDA;
  options.max_inferences = 1;
  options.cpu_threads = 0;
  options.context_length = 0;
  options.vram_budget_bytes = 0;
  options.upload_chunk_bytes = 0;
  return options;
}

lw_status cuda_init(int32_t device, cuda_context** out_context) {
  return guarded("cuda_init", [&]() -> lw_status {
    constexpr const char* kFunction = "cuda_init";
    if (out_context == nullptr) return fail(kFunction, LW_STATUS_INVALID_ARGUMENT, "out_context is NULL");
    auto state = std::make_shared<ContextState>();
    if (device == LW_DEVICE_CPU) {
      state->device = LW_DEVICE_CPU;
      *out_context = Registry::instance().add(std::move(state));
      return LW_STATUS_OK;
    }
    if (device < 0) {
      return fail(
          kFunction, LW_STATUS_INVALID_ARGUMENT,
          "device " + std::to_string(device) + " is not a device index (>= 0) nor LW_DEVICE_CPU (-1)");
    }
    if (!built_with_cuda()) {
      return fail(kFunction, LW_STATUS_NOT_BUILT_WITH_CUDA,
                  "device " + std::to_string(device) +
                      " requested, but llama-worker was built without CUDA; use LW_DEVICE_CPU");
    }
    std::string why_none;
    auto count = device_count(&why_none);
    if (!count) {
      if (auto sticky = sticky_device_error(device)) {
        return fail(kFunction, LW_STATUS_DEVICE_FAILED, count.error().message + " (sticky: " + *sticky + ")");
      }
      return fail(kFunction, LW_STATUS_DEVICE_ERROR, count.error().message);
    }
    if (*count == 0)
      return fail(kFunction, LW_STATUS_NO_DEVICE, "no CUDA device is available (" + why_none + ")");
    if (device >= *count) {
      return fail(kFunction, LW_STATUS_NO_DEVICE,
                  "device " + std::to_string(device) + " does not exist: " + std::to_string(*count) +
                      " CUDA device(s), indices 0.." + std::to_string(*count - 1));
    }
    const Status initialized = init_device(device);
    if (!initialized) {
      if (auto sticky = sticky_device_error(device)) {
        return fail(kFunction, LW_STATUS_DEVICE_FAILED, initialized.message() + " (sticky: " + *sticky + ")");
      }
      return fail(kFunction, LW_STATUS_DEVICE_ERROR, initialized.message());
    }
    state->device = device;
    *out_context = Registry::instance().add(std::move(state));
    return LW_STATUS_OK;
  });
}

lw_status cuda_free(cuda_context* context_handle) {
  return guarded("cuda_free", [&]() -> lw_status {
    auto context = Registry::instance().find("cuda_free", context_handle);
    if (context.status != LW_STATUS_OK) return context.status;
    Registry::Removed removed = Registry::instance().remove_context(context.id);
    if (removed.contexts.empty()) return freed_meanwhile("cuda_free", "context");
    release(std::move(removed), context.state->device);
    return LW_STATUS_OK;
  });
}

lw_status cuda_load_model(cuda_context* context, const char* path, const lw_model_options* options,
                          cuda_model** out_model) {
  return guarded("cuda_load_model", [&] { return load_model(context, path, options, out_model); });
}

lw_status cuda_model_free(cuda_model* model_handle) {
  return guarded("cuda_model_free", [&]() -> lw_status {
    auto model = Registry::instance().find("cuda_model_free", model_handle);
    if (model.status != LW_STATUS_OK) return model.status;
    const int device = model.state->context->device;
    model.state.reset();
    Registry::Removed removed = Registry::instance().remove_model(model.id);
    if (removed.models.empty()) return freed_meanwhile("cuda_model_free", "model");
    release(std::move(removed), device);
    return LW_STATUS_OK;
  });
}

lw_status cuda_model_get_info(cuda_model* model_handle, lw_model_info* out_info) {
  return guarded("cuda_model_get_info", [&]() -> lw_status {
    constexpr const char* kFunction = "cuda_model_get_info";
    auto model = Registry::instance().find(kFunction, model_handle);
    if (model.status != LW_STATUS_OK) return model.status;
    if (lw_status usable = check_context_usable(kFunction, *model.state->context); usable != LW_STATUS_OK)
      return usable;
    if (out_info == nullptr) return fail(kFunction, LW_STATUS_INVALID_ARGUMENT, "out_info is NULL");
    ModelState& state = *model.state;
    const model::ModelConfig& config = state.backend->config();  // immutable after load: no lock
    lw_model_info info;
    std::memset(&info, 0, sizeof info);
    info.vocab_size = state.vocabulary;
    info.context_length = state.backend->context_capacity();
    info.layers = config.layer_count;
    info.embedding_width = config.embedding_width;
    info.backend = state.backend_kind;
    info.eos_token = state.tokenizer->vocabulary().special.eos;
    copy_text(info.architecture, sizeof info.architecture, config.architecture);
    copy_text(info.name, sizeof info.name, config.name);
    return publish_or_freed(kFunction, HandleKind::kModel, model.id, [&] { *out_info = info; });
  });
}

lw_status cuda_check_vram_residency(cuda_model* model_handle, lw_residency_report* out_report) {
  return guarded("cuda_check_vram_residency", [&]() -> lw_status {
    constexpr const char* kFunction = "cuda_check_vram_residency";
    auto model = Registry::instance().find(kFunction, model_handle);
    if (model.status != LW_STATUS_OK) return model.status;
    ContextState& context = *model.state->context;
    if (lw_status usable = check_context_usable(kFunction, context); usable != LW_STATUS_OK) return usable;
    if (out_report == nullptr) return fail(kFunction, LW_STATUS_INVALID_ARGUMENT, "out_report is NULL");
    if (model.state->backend_kind != LW_BACKEND_CUDA) {
      return fail(kFunction, LW_STATUS_UNSUPPORTED,
                  "the model runs on the CPU backend: it has no device memory to check");
    }
    std::lock_guard lock(model.state->mutex);
    if (lw_status selected = select_context_device(kFunction, context); selected != LW_STATUS_OK)
      return selected;
    auto residency = check_cuda_residency(*model.state->backend);
    if (!residency) return device_work_failed(kFunction, context, residency.error(), LW_STATUS_DEVICE_ERROR);
    lw_residency_report report;
    std::memset(&report, 0, sizeof report);
    report.device_bytes = residency->device_bytes;
    report.allocations = residency->allocations;
    report.non_device = static_cast<int64_t>(residency->non_device.size());
    report.ok = residency->non_device.empty() && residency->allocations > 0 ? 1 : 0;
    if (!residency->non_device.empty()) {
      copy_text(report.first_violation, sizeof report.first_violation, residency->non_device.front());
    }
    return publish_or_freed(kFunction, HandleKind::kModel, model.id, [&] { *out_report = report; });
  });
}

}  // extern "C"
