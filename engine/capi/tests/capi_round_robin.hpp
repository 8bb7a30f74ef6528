// Shared by the C API's several-inference suites (capi_multi_inference_test.cpp on the CPU,
// gpu_capi_multi_inference_test.cpp on CUDA): the requests they run (a mix of greedy and seeded
// sampling, prompts of two lengths) and one thread pulling one token of each live inference in
// turn, and prompts of known token counts. Test code only, header-only.
#pragma once

#include <string>
#include <vector>

#include "capi/tests/capi_fixture.hpp"

namespace llama_worker::capi::testing {

inline lw_sampling_params request(int i) {
  lw_sampling_params params = cuda_default_sampling_params();
  params.temperature = i % 3 == 0 ? 0.0f : 0.7f + 0.1f * static_cast<float>(i % 4);
  params.top_k = i % 2 == 0 ? 0 : 20;
  params.seed = 100 + static_cast<uint64_t>(i);
  params.max_tokens = 12 + 3 * i;
  return params;
}

inline std::string prompt(int i) {
  return "request " + std::to_string(i) + (i % 2 == 0 ? " with a longer prompt" : "");
}

// `count` consecutive token ids from `first`: a prompt of known length for the KV-pool tests.
inline std::vector<int32_t> token_prompt(int count, int32_t first) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < count; ++i) tokens.push_back(first + i);
  return tokens;
}

// Live inferences pulled one token each in turn by one thread.
struct RoundRobin {
  std::vector<cuda_inference*> inferences;
  std::vector<Generated> got;
  std::vector<bool> done;
};

inline void pull_round(RoundRobin& run) {
  for (size_t i = 0; i < run.inferences.size(); ++i) {
    if (run.done[i]) continue;
    int32_t token = -1, finished = 0;
    const char* text = nullptr;
    size_t length = 0;
    const lw_status status = cuda_inference_next_token(run.inferences[i], &token, &text, &length, &finished);
    run.got[i].status = status;
    if (status != LW_STATUS_OK) {
      run.done[i] = true;
      continue;
    }
    run.got[i].tokens.push_back(token);
    run.got[i].pieces.emplace_back(text, length);
    run.got[i].text.append(text, length);
    if (finished) run.done[i] = true;
  }
}

// Starts requests 0 .. count - 1 on `model`.
inline RoundRobin start_all(cuda_model* model, int count) {
  RoundRobin run;
  run.inferences.assign(static_cast<size_t>(count), nullptr);
  run.got.resize(static_cast<size_t>(count));
  run.done.assign(static_cast<size_t>(count), false);
  for (int i = 0; i < count; ++i) {
    const lw_sampling_params params = request(i);
    EXPECT_LW(LW_STATUS_OK, cuda_inference_start(model, prompt(i).c_str(), &params,
                                                 &run.inferences[static_cast<size_t>(i)]));
  }
  return run;
}

inline bool all_done(const RoundRobin& run) {
  for (bool done : run.done) {
    if (!done) return false;
  }
  return true;
}

}  // namespace llama_worker::capi::testing
