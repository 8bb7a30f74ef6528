// Splitting a loop over std::thread workers: the one place the CPU reference ops go parallel.
//
// parallel_for(count, threads, body) calls body(begin, end) on disjoint, contiguous ranges that
// together cover [0, count). Each range is computed by exactly one worker, so results never depend
// on the thread count: every output element is written by one thread with the same arithmetic
// as the single-threaded loop. threads <= 1 (or a small count) runs inline on the caller.
#pragma once

#include <algorithm>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace llama_worker::kernels::cpu {

// Worker count to use when the caller passes 0: the machine's cores (at least 1).
inline int default_thread_count() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

template <typename Body>
void parallel_for(int64_t count, int threads, Body&& body) {
  if (threads <= 0) threads = default_thread_count();
  const int64_t workers = std::min<int64_t>(threads, count);
  if (workers <= 1) {
    if (count > 0) body(int64_t{0}, count);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(workers - 1));
  const int64_t chunk = (count + workers - 1) / workers;
  int64_t inline_from = workers;  // ranges from here on run on the caller: no thread could start
  for (int64_t w = 1; w < workers; ++w) {
    const int64_t begin = w * chunk;
    const int64_t end = std::min(count, begin + chunk);
    if (begin >= end) break;
    try {
      pool.emplace_back([&body, begin, end] { body(begin, end); });
    } catch (const std::system_error&) {
      // Out of threads (a huge thread count, ulimit -u, memory for stacks): the same ranges, on
      // the caller, so the results do not change; an escaping exception would terminate the
      // process with the started threads still joinable.
      inline_from = w;
      break;
    }
  }
  body(int64_t{0}, std::min(count, chunk));  // the caller is worker 0
  for (int64_t w = inline_from; w < workers; ++w) {
    const int64_t begin = w * chunk;
    const int64_t end = std::min(count, begin + chunk);
    if (begin >= end) break;
    body(begin, end);
  }
  for (std::thread& thread : pool) thread.join();
}

}  // namespace llama_worker::kernels::cpu
