#include "capi/handle_registry.hpp"

#include <cstdio>

#include "capi/status_codes.hpp"

namespace llama_worker::capi {
namespace {

constexpr int kKindShift = 56;
constexpr uint64_t kCounterMask = (uint64_t{1} << kKindShift) - 1;

static_assert(sizeof(void*) == sizeof(uint64_t), "handle values are 64-bit ids");

const char* kind_name(uint64_t kind) {
  switch (kind) {
    case static_cast<uint64_t>(HandleKind::kContext):
      return "context";
    case static_cast<uint64_t>(HandleKind::kModel):
      return "model";
    case static_cast<uint64_t>(HandleKind::kInference):
      return "inference";
    default:
      return "unknown";
  }
}

std::string hex(uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

template <typename State, typename Handle>
Lookup<State> find_in(std::mutex& mutex, const std::unordered_map<uint64_t, std::shared_ptr<State>>& map,
                      HandleKind kind, const char* function, Handle* handle) {
  Lookup<State> lookup;
  const char* expected = kind_name(static_cast<uint64_t>(kind));
  if (handle == nullptr) {
    lookup.status = fail(function, LW_STATUS_NULL_HANDLE, std::string("the ") + expected + " handle is NULL");
    return lookup;
  }
  const auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(handle));
  const uint64_t actual_kind = id >> kKindShift;
  if (actual_kind != static_cast<uint64_t>(kind)) {
    lookup.status = fail(function, LW_STATUS_INVALID_HANDLE,
                         "handle " + hex(id) + " is not a " + expected + " handle (it looks like a " +
                             kind_name(actual_kind) + " handle or was never issued)");
    return lookup;
  }
  {
    std::lock_guard lock(mutex);
    auto found = map.find(id);
    if (found != map.end()) {
      lookup.state = found->second;
      lookup.id = id;
      return lookup;
    }
  }
  lookup.status = fail(
      function, LW_STATUS_INVALID_HANDLE,
      std::string(expected) + " handle " + hex(id) + " was freed (or freed with its parent) or never issued");
  return lookup;
}

}  // namespace

void ContextState::mark_failed(const std::string& message) {
  std::lock_guard lock(failure_mutex);
  if (!failed.load()) failure_message = message;
  failed.store(true);
}

std::string ContextState::failure() {
  std::lock_guard lock(failure_mutex);
  return failure_message;
}

InferenceState::~InferenceState() {
  // Never throws: release() answers kNotFound for a sequence cuda_inference_free released.
  if (sequence && model != nullptr && model->scheduler != nullptr) (void)model->scheduler->release(*sequence);
}

Registry& Registry::instance() {
  static Registry* registry = new Registry();  // never destroyed: handles may be freed during exit
  return *registry;
}

uint64_t Registry::next_id(HandleKind kind) {
  ++counter_;
  return (static_cast<uint64_t>(kind) << kKindShift) | (counter_ & kCounterMask);
}

cuda_context* Registry::add(std::shared_ptr<ContextState> state) {
  std::lock_guard lock(mutex_);
  const uint64_t id = next_id(HandleKind::kContext);
  contexts_.emplace(id, std::move(state));
  return reinterpret_cast<cuda_context*>(static_cast<uintptr_t>(id));
}

cuda_model* Registry::add(std::shared_ptr<ModelState> state) {
  std::lock_guard lock(mutex_);
  if (contexts_.find(state->context_id) == contexts_.end()) return nullptr;
  const uint64_t id = next_id(HandleKind::kModel);
  models_.emplace(id, std::move(state));
  return reinterpret_cast<cuda_model*>(static_cast<uintptr_t>(id));
}

cuda_inference* Registry::add(std::shared_ptr<InferenceState> state) {
  std::lock_guard lock(mutex_);
  if (models_.find(state->model_id) == models_.end()) return nullptr;
  const uint64_t id = next_id(HandleKind::kInference);
  inferences_.emplace(id, std::move(state));
  return reinterpret_cast<cuda_inference*>(static_cast<uintptr_t>(id));
}

Lookup<ContextState> Registry::find(const char* function, cuda_context* handle) {
  return find_in(mutex_, contexts_, HandleKind::kContext, function, handle);
}

Lookup<ModelState> Registry::find(const char* function, cuda_model* handle) {
  return find_in(mutex_, models_, HandleKind::kModel, function, handle);
}

Lookup<InferenceState> Registry::find(const char* function, cuda_inference* handle) {
  return find_in(mutex_, inferences_, HandleKind::kInference, function, handle);
}

bool Registry::contains_locked(HandleKind kind, uint64_t id) const {
  switch (kind) {
    case HandleKind::kContext:
      return contexts_.find(id) != contexts_.end();
    case HandleKind::kModel:
      return models_.find(id) != models_.end();
    case HandleKind::kInference:
      return inferences_.find(id) != inferences_.end();
  }
  return false;
}

bool Registry::publish_if_registered(HandleKind kind, uint64_t id, const std::function<void()>& publish) {
  std::lock_guard lock(mutex_);
  if (!contains_locked(kind, id)) return false;
  publish();
  return true;
}

bool Registry::is_registered(HandleKind kind, uint64_t id) {
  std::lock_guard lock(mutex_);
  return contains_locked(kind, id);
}

Registry::Counts Registry::counts() {
  std::lock_guard lock(mutex_);
  return Counts{contexts_.size(), models_.size(), inferences_.size()};
}

void Registry::remove_model_locked(uint64_t id, Removed& removed) {
  auto model = models_.find(id);
  if (model == models_.end()) return;
  for (auto it = inferences_.begin(); it != inferences_.end();) {
    if (it->second->model_id == id) {
      it->second->cancel.store(true);
      removed.inferences.push_back(std::move(it->second));
      it = inferences_.erase(it);
    } else {
      ++it;
    }
  }
  removed.models.push_back(std::move(model->second));
  models_.erase(model);
}

Registry::Removed Registry::remove_context(uint64_t id) {
  Removed removed;
  std::lock_guard lock(mutex_);
  auto context = contexts_.find(id);
  if (context == contexts_.end()) return removed;
  std::vector<uint64_t> children;
  for (const auto& [model_id, model] : models_) {
    if (model->context_id == id) children.push_back(model_id);
  }
  for (uint64_t child : children) remove_model_locked(child, removed);
  removed.contexts.push_back(std::move(context->second));
  contexts_.erase(context);
  return removed;
}

Registry::Removed Registry::remove_model(uint64_t id) {
  Removed removed;
  std::lock_guard lock(mutex_);
  remove_model_locked(id, removed);
  return removed;
}

Registry::Removed Registry::remove_inference(uint64_t id) {
  Removed removed;
  std::lock_guard lock(mutex_);
  auto inference = inferences_.find(id);
  if (inference == inferences_.end()) return removed;
  inference->second->cancel.store(true);
  removed.inferences.push_back(std::move(inference->second));
  inferences_.erase(inference);
  return removed;
}

std::vector<std::shared_ptr<ContextState>> Registry::contexts_on_device(int device) {
  std::vector<std::shared_ptr<ContextState>> found;
  std::lock_guard lock(mutex_);
  for (const auto& [id, context] : contexts_) {
    if (context->device == device) found.push_back(context);
  }
  return found;
}

}  // namespace llama_worker::capi
