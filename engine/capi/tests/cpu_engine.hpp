// Shared by the C API suites that drive the runtime directly, under the C API
// (capi_faults_test.cpp, capi_generation_test.cpp): a test model opened as the C API opens it
// for the CPU backend: the GGUF file, its tokenizer and a one-thread CpuBackend.
//
// open() reports failures as gtest assertions; call it under ASSERT_NO_FATAL_FAILURE. The file
// outlives the tokenizer and backend that read it (declaration order). Test code only.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "gguf/file.hpp"
#include "runtime/cpu_backend.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/tokenizer_from_gguf.hpp"

namespace llama_worker::capi::testing {

struct CpuEngine {
  std::optional<gguf::File> file;
  std::optional<tokenizer::Tokenizer> tokenizer;
  std::unique_ptr<runtime::CpuBackend> backend;

  void open(const std::string& path) {
    auto opened = gguf::File::open(path);
    ASSERT_TRUE(opened) << opened.error().message;
    file.emplace(std::move(*opened));
    auto created = tokenizer::tokenizer_from_gguf(*file);
    ASSERT_TRUE(created) << created.error().message;
    tokenizer.emplace(std::move(*created));
    runtime::CpuBackendOptions options;
    options.threads = 1;
    auto cpu = runtime::CpuBackend::create(*file, options);
    ASSERT_TRUE(cpu) << cpu.error().message;
    backend = std::move(*cpu);
  }
};

}  // namespace llama_worker::capi::testing
