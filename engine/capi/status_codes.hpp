// The C API's status codes: names, one-line descriptions, the per-thread last-error message, and
// the guard every entry point runs its body in (no exception ever crosses the C boundary).
#pragma once

#include <exception>
#include <new>
#include <string>

#include "core/status.hpp"
#include "llama_worker.h"

namespace llama_worker::capi {

// Records `message` as this thread's last error, prefixed with the function name, and returns
// `status` (so call sites read `return fail(...)`).
lw_status fail(const char* function, lw_status status, const std::string& message);

// The engine's generic mapping of an ErrorCode (each call site handles the cases where a code
// means something more specific there, e.g. kOutOfRange = PROMPT_TOO_LONG at start).
lw_status status_from_code(ErrorCode code);

// Runs body() (returning lw_status); a thrown exception becomes OUT_OF_HOST_MEMORY or INTERNAL.
template <typename Body>
lw_status guarded(const char* function, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(function, LW_STATUS_OUT_OF_HOST_MEMORY, "a host memory allocation failed");
  } catch (const std::exception& exception) {
    return fail(function, LW_STATUS_INTERNAL, std::string("unexpected exception: ") + exception.what());
  } catch (...) {
    return fail(function, LW_STATUS_INTERNAL, "unexpected exception of unknown type");
  }
}

}  // namespace llama_worker::capi
