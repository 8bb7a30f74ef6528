// Shared by the gate suites (conformance/gates): environment lookups, running the CLI as a
// separate process, reading files, and the golden models' paths. Header-only, test code only.
//
// Environment (set by CMakeLists.txt): LLAMA_WORKER_CLI (the llama-worker binary),
// LLAMA_WORKER_GATES_MODELS (gates_make_models' output folder), LLAMA_WORKER_SOURCE_DIR (the
// repository), LLAMA_WORKER_VOCAB_DIR, LLAMA_WORKER_MODEL_DIR (exact-shape models, GPU suites).
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace llama_worker::gates {

inline std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// A path under gates_make_models' folder ("qwen2.gguf", "phi3.gguf", "phi3-window.gguf").
inline std::string gate_model(const std::string& file) {
  return env("LLAMA_WORKER_GATES_MODELS") + "/" + file;
}

inline std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Single-quotes an argument for /bin/sh.
inline std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct ProcessResult {
  int exit_status = -1;  // the process's exit status, -1 when it did not exit normally
  std::string out;       // stdout
};

// Runs `command` through /bin/sh (stderr is left to the terminal unless redirected by the command).
inline ProcessResult run_process(const std::string& command) {
  ProcessResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t got = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), got);
  const int status = pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  return result;
}

}  // namespace llama_worker::gates
