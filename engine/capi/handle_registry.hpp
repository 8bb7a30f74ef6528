// The objects behind the C API's opaque handles, and the registry that maps handle values to them.
//
// Handle values are ids, never pointers: bits 56..63 hold the kind (context, model, inference),
// bits 0..55 a process-wide counter that is never reused. A lookup finds the id in the registry
// or answers LW_STATUS_INVALID_HANDLE, so a freed, forged or wrong-kind handle is an error status
// and nothing is ever dereferenced through a handle value.
//
// Lifetime: the registry holds shared_ptrs; a call holds its own copy while it runs, so freeing a
// handle while another thread is inside a call on it destroys the object only when that call
// returns. Children keep their parent alive (inference -> model -> context) and freeing a parent
// removes its children from the registry (their handles become invalid) and raises the cancel
// flag of every removed inference, so a running prefill stops at its next chunk.
//
// A call whose handle (or a parent) is freed while it runs must not hand out what the free is
// about to destroy: it writes its out-parameters inside publish_if_registered, under the registry
// lock, only while its handle is still registered; and a new child is registered only while its
// parent is (add answers nullptr otherwise). Either the free comes first and the call answers
// LW_STATUS_INVALID_HANDLE, or the call's results come first and stay valid until that free.
//
// Locking: the registry mutex guards only the maps (held for lookups and erasures, never while
// engine work runs); each model's mutex serialises the work on that model and its inference.
// Order: a model mutex may be taken first and the registry mutex inside it, never the reverse.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gguf/file.hpp"
#include "llama_worker.h"
#include "runtime/backend.hpp"
#include "runtime/generation.hpp"
#include "runtime/scheduler/scheduler.hpp"
#include "tokenizer/streaming_decoder.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llama_worker::capi {

struct ContextState {
  int device = -1;  // CUDA device index; LW_DEVICE_CPU for a host-only context

  // Set once, when a sticky device error is seen; never cleared.
  std::atomic<bool> failed{false};
  std::mutex failure_mutex;
  std::string failure_message;  // guarded by failure_mutex

  void mark_failed(const std::string& message);
  std::string failure();  // the message recorded by mark_failed
};

struct ModelState {
  std::shared_ptr<ContextState> context;
  uint64_t context_id = 0;
  lw_backend backend_kind = LW_BACKEND_CPU;

  std::mutex mutex;  // serialises every use of the members below and of this model's inference
  std::unique_ptr<gguf::File> file;  // read during the load only (both backends copy what they need)
  std::optional<tokenizer::Tokenizer> tokenizer;
  std::unique_ptr<runtime::InferenceBackend> backend;
  int64_t vocabulary = 0;       // valid token ids: [0, min(model rows, tokenizer size))
  std::string chat_template;    // tokenizer.chat_template, empty when the file has none
  uint64_t live_inference = 0;  // id of the inference using the KV cache, 0 when none
  // Members are destroyed in reverse order: the backend before the file it may read from.

  // max_inferences >= 2 (CPU backend only): every inference is a sequence of this scheduler,
  // over its own paged KV pool (the contiguous cache of `backend` is then unused). Set at load,
  // immutable afterwards; the scheduler is thread-safe and is NOT guarded by `mutex`: its
  // inferences step without the model lock. Declared after `backend`: destroyed before it.
  int64_t max_inferences = 1;
  std::unique_ptr<runtime::scheduler::Scheduler> scheduler;
  std::vector<int32_t> stop_tokens;  // the tokenizer's end-of-generation ids
  int64_t live_inferences = 0;       // scheduler inferences registered and not freed; guarded by mutex
};

struct InferenceState {
  std::shared_ptr<ModelState> model;  // first member: outlives the generation below
  uint64_t model_id = 0;
  std::atomic<bool> cancel{false};  // raised by cuda_inference_cancel without any lock

  // A scheduler inference (model->scheduler set): its sequence, set before registration and
  // immutable afterwards; released here at the latest (cuda_inference_free releases it first).
  std::optional<runtime::scheduler::SequenceId> sequence;
  ~InferenceState();

  // Scheduler inferences: guarded by `mutex` (not the model's), so that the inferences of one
  // model step concurrently. Single-inference models: guarded by model->mutex as below.
  std::mutex mutex;
  std::optional<tokenizer::StreamingDecoder> decoder;
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  runtime::StopReason stop_reason = runtime::StopReason::kNone;
  double decode_ms = 0;

  // Guarded by model->mutex.
  std::optional<runtime::Generation> generation;
  std::string text;                  // the last step's text (what out_text points into)
  lw_status failure = LW_STATUS_OK;  // the first failure, answered again by later calls
  std::string failure_message;
};

enum class HandleKind : uint64_t { kContext = 1, kModel = 2, kInference = 3 };

template <typename State>
struct Lookup {
  lw_status status = LW_STATUS_OK;
  std::shared_ptr<State> state;
  uint64_t id = 0;
};

class Registry {
 public:
  static Registry& instance();

  cuda_context* add(std::shared_ptr<ContextState> state);
  // nullptr (nothing registered) when the parent (state->context_id, state->model_id) was freed.
  cuda_model* add(std::shared_ptr<ModelState> state);
  cuda_inference* add(std::shared_ptr<InferenceState> state);

  // Runs `publish` under the registry lock when the handle is still registered; false otherwise.
  bool publish_if_registered(HandleKind kind, uint64_t id, const std::function<void()>& publish);
  bool is_registered(HandleKind kind, uint64_t id);

  struct Counts {
    size_t contexts = 0, models = 0, inferences = 0;
  };
  Counts counts();  // what is registered now (tests check that nothing is left behind)

  // LW_STATUS_NULL_HANDLE / LW_STATUS_INVALID_HANDLE with this thread's last error set.
  Lookup<ContextState> find(const char* function, cuda_context* handle);
  Lookup<ModelState> find(const char* function, cuda_model* handle);
  Lookup<InferenceState> find(const char* function, cuda_inference* handle);

  // Remove the object and its children; the removed states are returned so that they are
  // destroyed by the caller, outside the registry lock.
  struct Removed {
    std::vector<std::shared_ptr<ContextState>> contexts;
    std::vector<std::shared_ptr<ModelState>> models;
    std::vector<std::shared_ptr<InferenceState>> inferences;
  };
  Removed remove_context(uint64_t id);
  Removed remove_model(uint64_t id);
  Removed remove_inference(uint64_t id);

  // Every live context on `device` (to mark them failed together: a sticky error poisons the
  // device for the whole process).
  std::vector<std::shared_ptr<ContextState>> contexts_on_device(int device);

 private:
  uint64_t next_id(HandleKind kind);
  bool contains_locked(HandleKind kind, uint64_t id) const;
  void remove_model_locked(uint64_t id, Removed& removed);

  std::mutex mutex_;
  uint64_t counter_ = 0;
  std::unordered_map<uint64_t, std::shared_ptr<ContextState>> contexts_;
  std::unordered_map<uint64_t, std::shared_ptr<ModelState>> models_;
  std::unordered_map<uint64_t, std::shared_ptr<InferenceState>> inferences_;
};

}  // namespace llama_worker::capi
