// libFuzzer harness: the GGUF reader on raw bytes. Any input must either parse into a File
// whose every view stays inside the input (exercise_file reads them all) or fail with a
// one-line message naming the input. See README.md for how to run it.
#include <cstddef>
#include <cstdint>

#include "gguf_exercise.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  llama_worker::fuzz::exercise_bytes({data, size});
  return 0;
}
