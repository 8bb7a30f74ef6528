/*
 * The example of docs/c-api.md, compiled and run by CTest (gate4_c_api_example_cpu on the CPU
 * backend; gate4_docs_test checks that docs/c-api.md quotes this file verbatim between the
 * markers). Usage: c_api_example MODEL.gguf [cpu|cuda] [PROMPT]
 */
/* example begin */
#include <stdio.h>
#include <string.h>

#include "llama_worker.h"

/* Prints the error of the call that failed and returns 1. */
static int fail(const char* what, lw_status status) {
  fprintf(stderr, "error: %s: %s (%s)\n", what, cuda_last_error(), cuda_status_name(status));
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.gguf [cpu|cuda] [PROMPT]\n", argv[0]);
    return 2;
  }
  const int on_cpu = argc > 2 && strcmp(argv[2], "cpu") == 0;
  const char* prompt = argc > 3 ? argv[3] : "Write a haiku about a GPU.";

  cuda_context* context = NULL;
  lw_status status = cuda_init(on_cpu ? LW_DEVICE_CPU : 0, &context);
  if (status != LW_STATUS_OK) return fail("cuda_init", status);

  lw_model_options options = cuda_default_model_options();
  options.backend = on_cpu ? LW_BACKEND_CPU : LW_BACKEND_CUDA;
  options.context_length = 1024; /* KV cache positions */
  cuda_model* model = NULL;
  status = cuda_load_model(context, argv[1], &options, &model);
  if (status != LW_STATUS_OK) {
    cuda_free(context);
    return fail("cuda_load_model", status);
  }
  lw_model_info info;
  if (cuda_model_get_info(model, &info) == LW_STATUS_OK) {
    fprintf(stderr, "%s (%s): %lld tokens, %lld positions\n", info.name, info.architecture,
            (long long)info.vocab_size, (long long)info.context_length);
  }

  lw_sampling_params params = cuda_default_sampling_params();
  params.temperature = 0.0f; /* greedy */
  params.max_tokens = 48;
  params.chat = 1; /* wrap the prompt in the model's chat format */
  cuda_inference* inference = NULL;
  status = cuda_inference_start(model, prompt, &params, &inference);
  if (status != LW_STATUS_OK) {
    cuda_free(context); /* frees the model too */
    return fail("cuda_inference_start", status);
  }
  for (int32_t finished = 0; !finished;) {
    int32_t token;
    const char* text;
    size_t length;
    status = cuda_inference_next_token(inference, &token, &text, &length, &finished);
    if (status != LW_STATUS_OK) break;
    fwrite(text, 1, length, stdout); /* valid UTF-8, possibly empty */
    fflush(stdout);
  }
  putchar('\n');
  lw_inference_stats stats;
  if (status == LW_STATUS_OK && cuda_inference_get_stats(inference, &stats) == LW_STATUS_OK) {
    fprintf(stderr, "prompt %lld tokens, generated %lld, stop reason %d\n", (long long)stats.prompt_tokens,
            (long long)stats.generated_tokens, stats.stop_reason);
  }
  const int result = status == LW_STATUS_OK ? 0 : fail("cuda_inference_next_token", status);
  cuda_inference_free(inference);
  cuda_model_free(model);
  cuda_free(context);
  return result;
}
/* example end */
