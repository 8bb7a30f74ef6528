// How many workers the CPU reference backend uses: the caller's count when it gives one, else
// LLAMA_WORKER_CPU_THREADS from the environment, else every core. The variable is what
// OMP_NUM_THREADS is to OpenMP programs: one knob for programs that embed the engine without a
// thread option (the C API, the bindings) or share the machine with other work.
#pragma once

#include "core/status.hpp"

namespace llama_worker::runtime {

inline constexpr int kMaxCpuThreads = 4096;  // as the CLI's --threads

// `requested` > 0: that count. 0: the environment's value, or every core when it is unset or
// empty. A value that is not a whole number from 1 to kMaxCpuThreads is an error naming it.
Result<int> cpu_thread_count(int requested);

}  // namespace llama_worker::runtime
