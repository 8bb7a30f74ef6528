// The exact-shape Qwen2.5-0.5B and Phi-3-mini Q4_K_M models of the gate 4 GPU suites
// (gate4_context_length, gate4_reproducibility, gpu_gate4_vram_pressure): random weights in the
// real shapes, written once by `llama-worker mkmodel` into LLAMA_WORKER_MODEL_DIR and reused by
// every later test and run. The file names are those of engine/runtime/cuda/tests/
// exact_shape_test.cpp (gpu_exact_shape_tests), which shares the folder.
//
// Invariant: a file under its final name is complete; mkmodel writes `<name>.partial` and it is
// renamed only when mkmodel succeeded. A failed generation is an EXPECT failure naming the
// command; the path is returned either way (the caller's open then fails naming it).
// Test code only, header-only.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "gates_common.hpp"

namespace llama_worker::gates {

// Path of the exact-shape model for `vocab_file` (under LLAMA_WORKER_VOCAB_DIR), generated
// when missing: "<LLAMA_WORKER_MODEL_DIR>/<name>-Q4_K_M-seed1[-tied].gguf".
inline std::string exact_shape_model(const std::string& vocab_file, const std::string& name, bool tied) {
  const std::string dir = env("LLAMA_WORKER_MODEL_DIR");
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/" + name + "-Q4_K_M-seed1" + (tied ? "-tied" : "") + ".gguf";
  if (!std::filesystem::exists(path)) {
    const std::string command = shell_quote(env("LLAMA_WORKER_CLI")) + " mkmodel --vocab " +
                                shell_quote(env("LLAMA_WORKER_VOCAB_DIR") + "/" + vocab_file) +
                                " --quant Q4_K_M --seed 1" + (tied ? " --tied" : "") + " -o " +
                                shell_quote(path + ".partial") + " && mv " + shell_quote(path + ".partial") +
                                " " + shell_quote(path);
    std::printf("generating: %s\n", command.c_str());
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
  return path;
}

// Qwen2.5-0.5B-Instruct's shape, tied embeddings.
inline std::string exact_shape_qwen() {
  return exact_shape_model("qwen2.5-0.5b-instruct.vocab.gguf", "qwen2.5-0.5b", true);
}

// Phi-3-mini-4k-instruct's shape (the vocabulary file has no sliding_window key: no window).
inline std::string exact_shape_phi3() {
  return exact_shape_model("phi-3-mini-4k-instruct.vocab.gguf", "phi-3-mini", false);
}

}  // namespace llama_worker::gates
