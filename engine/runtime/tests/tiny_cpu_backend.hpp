// A tiny hand-built model (model/testing/tiny_model.hpp) opened as a CpuBackend, for the batched
// forward and scheduler tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "gguf/file.hpp"
#include "model/testing/tiny_model.hpp"
#include "runtime/cpu_backend.hpp"

namespace llama_worker::runtime::testing {

struct TinyCpuModel {
  std::vector<uint8_t> bytes;
  std::optional<gguf::File> file;

  explicit TinyCpuModel(const model::testing::TinyModelSpec& spec) {
    auto built = model::testing::tiny_model_bytes(spec);
    EXPECT_TRUE(built) << built.error().message;
    bytes = std::move(*built);
    auto opened = gguf::File::from_bytes(bytes, "tiny.gguf");
    EXPECT_TRUE(opened) << opened.error().message;
    file.emplace(std::move(*opened));
  }
  std::unique_ptr<CpuBackend> backend(CpuBackendOptions options = {.threads = 1}) const {
    auto created = CpuBackend::create(*file, options);
    EXPECT_TRUE(created) << created.error().message;
    return created ? std::move(*created) : nullptr;
  }
};

// The logits of every position of `tokens` run alone through forward() in one batch:
// (tokens, vocab). forward() is the reference the batched paths must match bit for bit.
inline std::vector<float> logits_alone(const TinyCpuModel& model, const std::vector<int32_t>& tokens) {
  auto backend = model.backend();
  std::vector<float> logits;
  Status status = backend->forward(tokens, LogitsMode::kAllPositions, logits);
  EXPECT_TRUE(status) << status.message();
  return logits;
}

}  // namespace llama_worker::runtime::testing
