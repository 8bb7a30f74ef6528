// Host allocation failure through the C API (CPU backend), issue 9: this binary replaces the
// global operator new so that, when armed, the n-th allocation from then on throws
// std::bad_alloc. For n spread over every allocation a load + generation makes, the call that
// meets the failure must answer LW_STATUS_OUT_OF_HOST_MEMORY (the C API's guarded() boundary),
// nothing may crash or terminate (a bad_alloc escaping a noexcept function would), and the next
// request must succeed. Under the asan preset LeakSanitizer also proves that the failed paths
// free what they took. Its own binary: the replaced operator new is process-wide.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "capi/tests/capi_fixture.hpp"

namespace {

std::atomic<int64_t> g_allocations{0};
std::atomic<int64_t> g_fail_at{0};  // allocation number (as counted by g_allocations) to fail; 0 = none
std::atomic<int64_t> g_injected{0};

void* allocate(std::size_t size) {
  const int64_t number = g_allocations.fetch_add(1, std::memory_order_relaxed) + 1;
  int64_t armed = g_fail_at.load(std::memory_order_relaxed);
  if (armed != 0 && armed == number && g_fail_at.compare_exchange_strong(armed, 0)) {
    g_injected.fetch_add(1, std::memory_order_relaxed);
    throw std::bad_alloc();
  }
  void* pointer = std::malloc(size == 0 ? 1 : size);
  if (pointer == nullptr) throw std::bad_alloc();
  return pointer;
}

void* allocate_aligned(std::size_t size, std::align_val_t alignment) {
  const int64_t number = g_allocations.fetch_add(1, std::memory_order_relaxed) + 1;
  int64_t armed = g_fail_at.load(std::memory_order_relaxed);
  if (armed != 0 && armed == number && g_fail_at.compare_exchange_strong(armed, 0)) {
    g_injected.fetch_add(1, std::memory_order_relaxed);
    throw std::bad_alloc();
  }
  const std::size_t align = static_cast<std::size_t>(alignment);
  void* pointer = std::aligned_alloc(align, (size + align - 1) / align * align);
  if (pointer == nullptr) throw std::bad_alloc();
  return pointer;
}

}  // namespace

void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
void* operator new(std::size_t size, std::align_val_t alignment) { return allocate_aligned(size, alignment); }
void* operator new[](std::size_t size, std::align_val_t alignment) {
  return allocate_aligned(size, alignment);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* pointer) noexcept { std::free(pointer); }
void operator delete[](void* pointer) noexcept { std::free(pointer); }
void operator delete(void* pointer, std::size_t) noexcept { std::free(pointer); }
void operator delete[](void* pointer, std::size_t) noexcept { std::free(pointer); }
void operator delete(void* pointer, std::align_val_t) noexcept { std::free(pointer); }
void operator delete[](void* pointer, std::align_val_t) noexcept { std::free(pointer); }
void operator delete(void* pointer, std::size_t, std::align_val_t) noexcept { std::free(pointer); }
void operator delete[](void* pointer, std::size_t, std::align_val_t) noexcept { std::free(pointer); }

namespace llama_worker::capi::testing {
namespace {

// Fails the n-th allocation from now on (1 = the next one).
void fail_nth_allocation(int64_t n) { g_fail_at.store(g_allocations.load() + n); }
void disarm() { g_fail_at.store(0); }

// One request: load the model, generate 3 greedy tokens, free. The first failing status.
lw_status request(cuda_context* context) {
  const lw_model_options options = cpu_options();
  cuda_model* model = nullptr;
  lw_status status = cuda_load_model(context, test_models().model.c_str(), &options, &model);
  if (status != LW_STATUS_OK) return status;
  cuda_inference* inference = nullptr;
  const lw_sampling_params params = greedy(3);
  status = cuda_inference_start(model, "Hello, world", &params, &inference);
  for (int32_t finished = 0; status == LW_STATUS_OK && !finished;) {
    int32_t token;
    const char* text;
    size_t length;
    status = cuda_inference_next_token(inference, &token, &text, &length, &finished);
  }
  if (inference != nullptr) cuda_inference_free(inference);
  cuda_model_free(model);
  return status;
}

TEST(CapiHostAllocationFault, EveryFailedAllocationIsOutOfHostMemoryAndTheNextRequestSucceeds) {
  CAPI_REQUIRE_MODELS();
  cuda_context* context = nullptr;
  ASSERT_LW(LW_STATUS_OK, cuda_init(LW_DEVICE_CPU, &context));
  ASSERT_LW(LW_STATUS_OK, request(context));  // warm: lazily built statics
  const int64_t before = g_allocations.load();
  ASSERT_LW(LW_STATUS_OK, request(context));
  const int64_t per_request = g_allocations.load() - before;
  ASSERT_GT(per_request, 0);
  std::printf("one request (load + 3 tokens + free) makes %lld allocations\n",
              static_cast<long long>(per_request));

  // The first 64 allocations one by one, then ~150 points spread over the rest.
  const int64_t stride = per_request > 64 ? (per_request - 64) / 150 + 1 : 1;
  int trials = 0;
  for (int64_t n = 1; n <= per_request; n += (n < 64 ? 1 : stride)) {
    ++trials;
    const int64_t injected = g_injected.load();
    fail_nth_allocation(n);
    const lw_status status = request(context);
    disarm();
    const bool fired = g_injected.load() > injected;
    if (fired) {
      EXPECT_EQ(cuda_status_name(status), std::string("LW_STATUS_OUT_OF_HOST_MEMORY"))
          << "allocation " << n << " of " << per_request << ": " << cuda_last_error();
    } else {
      EXPECT_LW(LW_STATUS_OK, status);  // the failure landed in a free path that allocates less
    }
    SCOPED_TRACE("the request after failing allocation " + std::to_string(n));
    ASSERT_LW(LW_STATUS_OK, request(context));
    if (HasFailure()) break;
  }
  std::printf("%d trials (failing allocation 1..64, then every %lld-th)\n", trials,
              static_cast<long long>(stride));
  cuda_free(context);
}

}  // namespace
}  // namespace llama_worker::capi::testing
