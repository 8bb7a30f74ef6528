// The test-only hooks of testing_hooks.hpp. The hooks are copied under a mutex so that a test
// may install one while no call runs and the entry points read it from any thread.
#include "capi/testing_hooks.hpp"

#include <array>
#include <atomic>
#include <mutex>

#include "capi/handle_registry.hpp"

namespace llama_worker::capi {
namespace {

constexpr size_t kPointCount = 3;

struct Hooks {
  std::mutex mutex;
  std::array<std::function<void()>, kPointCount> hooks;
};

Hooks& hooks() {
  static Hooks* instance = new Hooks();  // never destroyed, like the registry
  return *instance;
}

}  // namespace

void set_testing_hook(TestingPoint point, std::function<void()> hook) {
  std::lock_guard lock(hooks().mutex);
  hooks().hooks[static_cast<size_t>(point)] = std::move(hook);
}

void run_testing_hook(TestingPoint point) {
  std::function<void()> hook;
  {
    std::lock_guard lock(hooks().mutex);
    hook = hooks().hooks[static_cast<size_t>(point)];
  }
  if (hook) hook();
}

namespace {
std::atomic<int64_t> kv_blocks_for_testing{0};
}  // namespace

void set_testing_kv_blocks(int64_t blocks) { kv_blocks_for_testing.store(blocks); }
int64_t testing_kv_blocks() { return kv_blocks_for_testing.load(); }

RegisteredHandles registered_handles_for_testing() {
  const Registry::Counts counts = Registry::instance().counts();
  return RegisteredHandles{counts.contexts, counts.models, counts.inferences};
}

}  // namespace llama_worker::capi
