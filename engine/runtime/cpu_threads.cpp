#include "runtime/cpu_threads.hpp"

#include <charconv>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "cpu/parallel.hpp"

namespace llama_worker::runtime {

namespace {

constexpr const char* kVariable = "LLAMA_WORKER_CPU_THREADS";

// The environment's value: nullopt when the variable is unset or empty.
Result<std::optional<int>> cpu_threads_from_environment() {
  const char* setting = std::getenv(kVariable);
  if (setting == nullptr || *setting == '\0') return std::optional<int>{};
  const std::string_view text(setting);
  int value = 0;
  const auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  if (error != std::errc{} || stop != text.data() + text.size() || value < 1 || value > kMaxCpuThreads) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(kVariable) + " must be a whole number from 1 to " +
                          std::to_string(kMaxCpuThreads) + ", not '" + std::string(text) + "'");
  }
  return std::optional<int>{value};
}

}  // namespace

Result<int> cpu_thread_count(int requested) {
  if (requested < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "threads must not be negative (0 = LLAMA_WORKER_CPU_THREADS or every core), not " +
                          std::to_string(requested));
  }
  if (requested > 0) return requested;
  LW_ASSIGN_OR_RETURN(const std::optional<int> from_environment, cpu_threads_from_environment());
  return from_environment ? *from_environment : kernels::cpu::default_thread_count();
}

}  // namespace llama_worker::runtime
