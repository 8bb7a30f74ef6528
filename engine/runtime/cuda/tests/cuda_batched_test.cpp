// The CUDA batched forward (cuda_batched_forward.cpp) end to end through the scheduler, on the
// synthetic golden models (mkmodel: Q4_K_M and F16 mixes of qwen2, phi3 and llama shapes, head
// size 64; made by the golden_model_* fixtures into LLAMA_WORKER_GOLDEN_MODELS):
//   - one sequence through forward_batch matches the CPU reference (forward() of the same tokens)
//     within the CUDA backend's budget, top-1 included;
//   - 64 sequences with different prompts, lengths, seeds and arrival times, prefilled in chunks
//     of 5 beside decode rows, pulled round-robin by one thread, give exactly the tokens and the
//     logits bits of each sequence run alone on the same backend (one-chunk prefill); cancelling
//     some changes none of the others;
//   - a bad batch is refused before anything runs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "gguf/file.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/cuda/cuda_backend.hpp"
#include "runtime/scheduler/tests/reference_run.hpp"

namespace llama_worker::runtime::cuda {
namespace {

using scheduler::Scheduler;
using scheduler::SchedulerOptions;
using scheduler::SequenceId;
using scheduler::SequenceOptions;
using scheduler::testing::expect_same_as_alone;
using scheduler::testing::LogitsRecorder;
using scheduler::testing::ReferenceRun;

constexpr int64_t kContext = 256;

std::optional<std::string> model_path(const std::string& name) {
  const char* directory = std::getenv("LLAMA_WORKER_GOLDEN_MODELS");
  if (directory == nullptr) return std::nullopt;
  const std::string path = std::string(directory) + "/" + name + ".gguf";
  if (!std::filesystem::exists(path)) return std::nullopt;
  return path;
}

struct LoadedModel {
  std::optional<gguf::File> file;
  std::unique_ptr<CudaBackend> backend;
};

LoadedModel load(const std::string& path) {
  LoadedModel loaded;
  auto file = gguf::File::open(path);
  EXPECT_TRUE(file) << file.error().message;
  if (!file) return loaded;
  loaded.file.emplace(std::move(*file));
  CudaBackendOptions options;
  options.context = kContext;
  auto backend = CudaBackend::create(*loaded.file, options);
  EXPECT_TRUE(backend) << backend.error().message;
  if (backend) loaded.backend = std::move(*backend);
  return loaded;
}

double nmse(std::span<const float> actual, std::span<const float> expected) {
  double error = 0, norm = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (!std::isfinite(actual[i])) return INFINITY;
    error += (double(actual[i]) - expected[i]) * (double(actual[i]) - expected[i]);
    norm += double(expected[i]) * expected[i];
  }
  return error / norm;
}

int64_t argmax(std::span<const float> row) { return std::max_element(row.begin(), row.end()) - row.begin(); }

class CudaBatched : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const auto path = model_path(GetParam());
    if (!path) GTEST_SKIP() << "no " << GetParam() << ".gguf in LLAMA_WORKER_GOLDEN_MODELS (ctest makes it)";
    model_ = load(*path);
    ASSERT_NE(model_.backend, nullptr);
    path_ = *path;
  }
  LoadedModel model_;
  std::string path_;
};

// Sequence i: prompt of 1..60 tokens, 3..18 tokens to generate, own seed, temperature and top-k;
// every fourth stops at the token it would sample third (found from its alone run).
struct Workload {
  std::vector<int32_t> prompt;
  SequenceOptions options;
  ReferenceRun alone;
};

std::vector<Workload> make_workloads(int count, int64_t vocab) {
  std::vector<Workload> result;
  for (int i = 0; i < count; ++i) {
    Workload w;
    const int length = 1 + (i * 13) % 60;
    for (int t = 0; t < length; ++t)
      w.prompt.push_back(static_cast<int32_t>((i * 7919 + t * 104729 + t * t * 31) % vocab));
    w.options.max_tokens = 3 + (i * 5) % 16;
    w.options.sampling = {.temperature = i % 5 == 0 ? 0.0f : 0.7f + 0.05f * static_cast<float>(i % 7),
                          .top_k = (i % 3) * 10,
                          .top_p = 1.0f,
                          .min_p = 0.0f,
                          .seed = static_cast<uint64_t>(1000 + i)};
    result.push_back(std::move(w));
  }
  return result;
}

// Runs each workload alone through a one-sequence scheduler on `backend` (one-chunk prefill).
void run_each_alone(CudaBackend& backend, std::vector<Workload>& work) {
  SchedulerOptions options{.max_sequences = 1, .prefill_chunk = 64, .run_ahead_tokens = 1};
  LogitsRecorder recorder;
  recorder.attach(options);
  auto scheduler = Scheduler::create(backend, options);
  ASSERT_TRUE(scheduler) << scheduler.error().message;
  for (Workload& w : work) {
    auto id = (*scheduler)->start(w.prompt, w.options);
    ASSERT_TRUE(id) << id.error().message;
    while (true) {
      auto token = (*scheduler)->next_token(*id);
      ASSERT_TRUE(token) << token.error().message;
      w.alone.tokens.push_back(token->token);
      if (token->finished) {
        w.alone.stop = token->stop_reason;
        break;
      }
    }
    w.alone.logits = recorder.rows(*id);
    ASSERT_TRUE((*scheduler)->release(*id));
  }
}

TEST_P(CudaBatched, OneSequenceMatchesTheCpuReference) {
  auto cpu = CpuBackend::create(*model_.file, {.threads = 0, .context = kContext});
  ASSERT_TRUE(cpu) << cpu.error().message;
  const int64_t vocab = model_.backend->config().vocab_size;
  std::vector<Workload> work = make_workloads(3, vocab);
  for (Workload& w : work) w.options.sampling.temperature = 0.0f;  // greedy
  run_each_alone(*model_.backend, work);
  for (size_t i = 0; i < work.size(); ++i) {
    const Workload& w = work[i];
    std::vector<float> reference;
    (*cpu)->reset();
    ASSERT_TRUE((*cpu)->forward(w.prompt, LogitsMode::kLastPosition, reference));
    for (size_t step = 0; step < w.alone.tokens.size(); ++step) {
      const std::span<const float> gpu(w.alone.logits[step]);
      const double error = nmse(gpu, reference);
      EXPECT_LE(error, 1e-4) << "sequence " << i << " step " << step;
      EXPECT_EQ(argmax(gpu), argmax(reference)) << "sequence " << i << " step " << step;
      std::printf("%s sequence %zu step %zu: NMSE %.3g vs the CPU reference\n", GetParam().c_str(), i, step,
                  error);
      const int32_t token = w.alone.tokens[step];
      ASSERT_TRUE((*cpu)->forward(std::span(&token, 1), LogitsMode::kLastPosition, reference));
    }
  }
}

TEST_P(CudaBatched, SixtyFourSequencesGiveTheBitsOfEachAlone) {
  const int kSequences = 64;
  const int64_t vocab = model_.backend->config().vocab_size;
  std::vector<Workload> work = make_workloads(kSequences, vocab);
  run_each_alone(*model_.backend, work);
  // Every fourth stops on its third token: the end-of-generation path inside a batch.
  for (int i = 3; i < kSequences; i += 4) {
    if (work[i].alone.tokens.size() < 3) continue;
    work[i].options.stop_tokens = {work[i].alone.tokens[2]};
  }
  // The stop token may occur earlier: recompute those alone runs with their stop tokens.
  std::vector<Workload> with_stops;
  for (int i = 3; i < kSequences; i += 4) with_stops.push_back(work[i]);
  for (Workload& w : with_stops) w.alone = {};
  run_each_alone(*model_.backend, with_stops);
  for (int i = 3, k = 0; i < kSequences; i += 4, ++k) work[i].alone = with_stops[k].alone;

  SchedulerOptions options{.max_sequences = kSequences, .prefill_chunk = 5, .run_ahead_tokens = 2};
  LogitsRecorder recorder;
  recorder.attach(options);
  auto scheduler = Scheduler::create(*model_.backend, options);
  ASSERT_TRUE(scheduler) << scheduler.error().message;
  std::vector<SequenceId> ids(kSequences, 0);
  std::vector<std::vector<int32_t>> tokens(kSequences);
  std::vector<bool> done(kSequences, false);
  int started = 0, finished = 0;
  auto arrive = [&] {
    auto id = (*scheduler)->start(work[started].prompt, work[started].options);
    ASSERT_TRUE(id) << id.error().message;
    ids[started++] = *id;
  };
  while (started < kSequences / 2) arrive();
  while (finished < kSequences) {
    for (int i = 0; i < started; ++i) {
      if (done[i]) continue;
      // Every seventh is cancelled after its second token: the others must not notice.
      if (i % 7 == 6 && tokens[i].size() == 2) {
        ASSERT_TRUE((*scheduler)->cancel(ids[i]));
        done[i] = true;
        ++finished;
        continue;
      }
      auto token = (*scheduler)->next_token(ids[i]);
      ASSERT_TRUE(token) << "sequence " << i << ": " << token.error().message;
      tokens[i].push_back(token->token);
      if (token->finished) {
        EXPECT_EQ(token->stop_reason, work[i].alone.stop) << i;
        done[i] = true;
        ++finished;
      }
    }
    if (started < kSequences) arrive();
  }
  int64_t generated = 0;
  for (int i = 0; i < kSequences; ++i) {
    if (i % 7 != 6 || work[i].alone.tokens.size() <= 2) {
      EXPECT_EQ(tokens[i].size(), work[i].alone.tokens.size()) << i;
    }
    expect_same_as_alone(work[i].alone, tokens[i], recorder.rows(ids[i]), "sequence " + std::to_string(i));
    generated += static_cast<int64_t>(tokens[i].size());
  }
  const scheduler::SchedulerStats stats = (*scheduler)->stats();
  EXPECT_GT(stats.largest_step_entries, kSequences / 4);
  // Prompts of up to 60 tokens in chunks of 5, arriving one per round, make most steps prefill
  // steps; batching shows as many rows per step (H100, 2026-12-06: ~10 on average, at most 26
  // sequences in a step; one sequence per step would be ~1 row).
  EXPECT_GT(stats.rows, 5 * stats.steps) << "the rows were not batched";
  std::printf("%s: %lld tokens in %lld steps, %lld rows, at most %lld sequences a step\n", GetParam().c_str(),
              static_cast<long long>(generated), static_cast<long long>(stats.steps),
              static_cast<long long>(stats.rows), static_cast<long long>(stats.largest_step_entries));
}

// Greedy sequences with nobody watching the logits take the device's argmax (BatchEntry::greedy)
// instead of a logits row: the same tokens as each alone through the host sampler, 24 at once.
TEST_P(CudaBatched, GreedySequencesTakeTheDeviceArgmaxAndKeepTheirTokens) {
  const int kSequences = 24;
  const int64_t vocab = model_.backend->config().vocab_size;
  std::vector<Workload> work = make_workloads(kSequences, vocab);
  for (Workload& w : work) w.options.sampling.temperature = 0.0f;
  run_each_alone(*model_.backend, work);  // with a logits recorder: rows and the host sampler
  SchedulerOptions options{.max_sequences = kSequences, .prefill_chunk = 7, .run_ahead_tokens = 1};
  auto scheduler = Scheduler::create(*model_.backend, options);
  ASSERT_TRUE(scheduler) << scheduler.error().message;
  std::vector<SequenceId> ids;
  for (const Workload& w : work) {
    auto id = (*scheduler)->start(w.prompt, w.options);
    ASSERT_TRUE(id) << id.error().message;
    ids.push_back(*id);
  }
  for (int i = 0; i < kSequences; ++i) {
    std::vector<int32_t> tokens;
    while (true) {
      auto token = (*scheduler)->next_token(ids[i]);
      ASSERT_TRUE(token) << "sequence " << i << ": " << token.error().message;
      tokens.push_back(token->token);
      if (token->finished) break;
    }
    EXPECT_EQ(tokens, work[i].alone.tokens) << "sequence " << i;
  }
}

TEST_P(CudaBatched, BadBatchesAreRefusedAndTheBackendStaysUsable) {
  std::vector<float> logits;
  const std::vector<int32_t> tokens = {1, 2, 3};
  const std::vector<int32_t> table = {0};
  BatchEntry entry{.tokens = tokens, .start_position = 0, .block_table = table};
  Status status = model_.backend->forward_batch(std::span(&entry, 1), logits);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("no KV pool"), std::string::npos) << status.message();

  auto scheduler = Scheduler::create(*model_.backend, {.max_sequences = 2});  // allocates the pool
  ASSERT_TRUE(scheduler) << scheduler.error().message;
  const std::vector<int32_t> bad = {1, static_cast<int32_t>(model_.backend->config().vocab_size)};
  entry.tokens = bad;
  status = model_.backend->forward_batch(std::span(&entry, 1), logits);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("outside the vocabulary"), std::string::npos) << status.message();
  entry.tokens = tokens;
  entry.start_position = kContext - 1;
  status = model_.backend->forward_batch(std::span(&entry, 1), logits);
  ASSERT_FALSE(status);
  entry.start_position = 0;
  ASSERT_TRUE(model_.backend->forward_batch(std::span(&entry, 1), logits));
  EXPECT_EQ(logits.size(), static_cast<size_t>(model_.backend->config().vocab_size));
  for (const float value : logits) ASSERT_TRUE(std::isfinite(value));
}

// A model loaded under a VRAM budget that its own plan nearly fills: the pool, the fragment copy and
// the batch buffers of several inferences are refused before anything is allocated, with what each
// needs and what the budget leaves; the model goes on serving one inference.
TEST_P(CudaBatched, SeveralInferencesBeyondTheBudgetAreRefusedWithTheirParts) {
  CudaBackendOptions options;
  options.context = kContext;
  options.vram_budget_bytes = model_.backend->memory_plan().total_bytes() + (int64_t{64} << 10);
  model_.backend.reset();  // one model on the device at a time
  auto backend = CudaBackend::create(*model_.file, options);
  ASSERT_TRUE(backend) << backend.error().message;
  auto scheduler = Scheduler::create(**backend, {.max_sequences = 4});
  ASSERT_FALSE(scheduler);
  EXPECT_EQ(scheduler.error().code, ErrorCode::kOutOfMemory);
  for (const char* part :
       {"KV pool", "blocks of 16 positions", "batch buffers", "budget 0.1 MiB left after"}) {
    EXPECT_NE(scheduler.error().message.find(part), std::string::npos)
        << part << ": " << scheduler.error().message;
  }
  std::vector<float> logits;
  const std::vector<int32_t> tokens = {1, 2, 3};
  ASSERT_TRUE((*backend)->forward(tokens, LogitsMode::kLastPosition, logits));
  for (const float value : logits) ASSERT_TRUE(std::isfinite(value));
}

INSTANTIATE_TEST_SUITE_P(SyntheticModels, CudaBatched,
                         ::testing::Values("synthetic-qwen2-q4_k_m", "synthetic-phi3-q4_k_m",
                                           "synthetic-llama-q4_k_m", "synthetic-qwen2-f16"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace llama_worker::runtime::cuda
