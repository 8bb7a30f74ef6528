#include "capi/entry_helpers.hpp"

#include <optional>

#include "capi/device_glue.hpp"

namespace llama_worker::capi {

lw_status check_context_usable(const char* function, ContextState& context) {
  if (!context.failed.load()) return LW_STATUS_OK;
  return fail(function, LW_STATUS_DEVICE_FAILED,
              "the device of this context failed earlier and cannot be used until the process restarts: " +
                  context.failure());
}

lw_status device_work_failed(const char* function, ContextState& context, const Error& error,
                             lw_status mapped) {
  if (error.code == ErrorCode::kDeviceError && context.device >= 0) {
    if (std::optional<std::string> sticky = sticky_device_error(context.device)) {
      const std::string message = error.message + " (sticky: " + *sticky + ")";
      for (const auto& other : Registry::instance().contexts_on_device(context.device))
        other->mark_failed(message);
      context.mark_failed(message);
      return fail(function, LW_STATUS_DEVICE_FAILED, message);
    }
  }
  return fail(function, mapped, error.message);
}

lw_status publish_or_freed(const char* function, HandleKind kind, uint64_t id,
                           const std::function<void()>& publish) {
  if (Registry::instance().publish_if_registered(kind, id, publish)) return LW_STATUS_OK;
  return fail(function, LW_STATUS_INVALID_HANDLE,
              std::string("the handle (or its model or context) was freed while ") + function +
                  " ran; nothing was written");
}

lw_status freed_meanwhile(const char* function, const char* kind) {
  return fail(function, LW_STATUS_INVALID_HANDLE,
              std::string("the ") + kind + " was freed by another call (of it or of a parent) while " +
                  function + " ran");
}

lw_status select_context_device(const char* function, ContextState& context) {
  if (context.device < 0) return LW_STATUS_OK;
  const Status selected = select_device(context.device);
  if (selected) return LW_STATUS_OK;
  return device_work_failed(function, context, selected.error(), LW_STATUS_DEVICE_ERROR);
}

}  // namespace llama_worker::capi
