// Helpers shared by the C API's entry points (capi_context_model.cpp, capi_inference.cpp):
// the sticky-failure check every call on a context's objects begins with, and the handling of a
// device error (is it sticky? then mark every context on that device failed).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "capi/handle_registry.hpp"
#include "capi/status_codes.hpp"
#include "core/status.hpp"

namespace llama_worker::capi {

// LW_STATUS_DEVICE_FAILED (last error set) when the context was marked failed, else OK.
lw_status check_context_usable(const char* function, ContextState& context);

// For an engine error on a context's device work: a kDeviceError whose error turns out sticky
// marks every context on the device failed and answers LW_STATUS_DEVICE_FAILED; any other error
// is `mapped` (the call site's status for it) with the engine's message.
lw_status device_work_failed(const char* function, ContextState& context, const Error& error,
                             lw_status mapped);

// Writes a call's out-parameters (`publish`) only while its handle is still registered (see
// handle_registry.hpp, "Lifetime"); LW_STATUS_INVALID_HANDLE, with nothing written, when the handle
// or a parent was freed while the call ran.
lw_status publish_or_freed(const char* function, HandleKind kind, uint64_t id,
                           const std::function<void()>& publish);

// LW_STATUS_INVALID_HANDLE for a free that found its handle but lost the race to remove it to
// another free (of it or of a parent): exactly one of two racing frees answers OK.
lw_status freed_meanwhile(const char* function, const char* kind);

// Makes the context's device current on this thread (no-op for a host-only context).
lw_status select_context_device(const char* function, ContextState& context);

}  // namespace llama_worker::capi
