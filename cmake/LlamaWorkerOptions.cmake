# Build options and the warning/sanitizer flags every target of ours gets.
set(LLAMA_WORKER_CUDA "AUTO" CACHE STRING "Build CUDA code: AUTO (when nvcc is found), ON, OFF")
set_property(CACHE LLAMA_WORKER_CUDA PROPERTY STRINGS AUTO ON OFF)
set(LLAMA_WORKER_SANITIZERS "" CACHE STRING "Semicolon list passed as -fsanitize=..., e.g. address;undefined")
option(LLAMA_WORKER_FUZZ "Build libFuzzer harnesses (needs clang)" OFF)
option(LLAMA_WORKER_WERROR "Treat warnings as errors (C++, nvcc and its host compiler)" OFF)
option(LLAMA_WORKER_COVERAGE "Instrument for line and branch coverage (GCC --coverage; ci/coverage-report.sh)" OFF)

# One interface target carries our flags; third-party code does not get them.
add_library(llama_worker_flags INTERFACE)
target_compile_options(llama_worker_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${LLAMA_WORKER_WERROR}>>:-Werror>
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra --expt-relaxed-constexpr>
  # nvcc: every warning kind of its own (all-warnings) and the host compiler's warnings are errors.
  $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${LLAMA_WORKER_WERROR}>>:--Werror=all-warnings -Xcompiler=-Werror>)

if(LLAMA_WORKER_SANITIZERS)
  list(JOIN LLAMA_WORKER_SANITIZERS "," _sanitizers)
  add_compile_options(-fsanitize=${_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_sanitizers})
endif()

# Coverage: every target (ours and the tests) compiles with --coverage so gcovr sees the .gcda
# counters of the cpu suite. GCC only; CUDA code is not instrumented (coverage builds are CPU only).
if(LLAMA_WORKER_COVERAGE)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    message(FATAL_ERROR "LLAMA_WORKER_COVERAGE needs GCC (gcov counters read by gcovr)")
  endif()
  # Atomic counters: tests run threads (C API, upload workers), and plain counters raced into
  # negative branch counts that gcov prints and gcovr refuses ("branch 3 taken -29").
  add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:--coverage;-fprofile-update=atomic>")
  add_link_options(--coverage)
endif()
