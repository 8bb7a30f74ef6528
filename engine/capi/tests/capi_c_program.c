/*
 * The C API driven from C (compiled as C11): every entry point, every status a caller can
 * provoke from outside, generation end to end on the tiny test model (capi_make_test_model).
 *
 *   capi_c_program MODEL_DIRECTORY cpu|cuda
 *
 * cpu:  a host-only context (LW_DEVICE_CPU) and LW_BACKEND_CPU models — runs in CI.
 * cuda: device 0 and LW_BACKEND_CUDA models; exits 77 (CTest: skipped) when there is no device or
 *       the library was built without CUDA.
 * Exit 0 when every check passed, 1 otherwise (each failed check prints its line, the status and
 * the last error).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama_worker.h"

static int failures = 0;
static int checks = 0;

#define CHECK(condition)                                                                                 \
  do {                                                                                                   \
    ++checks;                                                                                            \
    if (!(condition)) {                                                                                  \
      ++failures;                                                                                        \
      fprintf(stderr, "FAILED line %d: %s (last error: %s)\n", __LINE__, #condition, cuda_last_error()); \
    }                                                                                                    \
  } while (0)

/* The call must return `expected`; on failure its message must be non-empty. */
#define EXPECT_STATUS(expected, call)                                                                    \
  do {                                                                                                   \
    const lw_status got_ = (call);                                                                       \
    ++checks;                                                                                            \
    if (got_ != (expected)) {                                                                            \
      ++failures;                                                                                        \
      fprintf(stderr, "FAILED line %d: %s returned %s, expected %s (last error: %s)\n", __LINE__, #call, \
              cuda_status_name(got_), cuda_status_name(expected), cuda_last_error());                    \
    } else if (got_ != LW_STATUS_OK && cuda_last_error()[0] == '\0') {                                   \
      ++failures;                                                                                        \
      fprintf(stderr, "FAILED line %d: %s gave no error message\n", __LINE__, #call);                    \
    }                                                                                                    \
  } while (0)

static char model_path[4096 + 64];
static char directory_path[4096];
static int use_cuda = 0;

static const char* path_in(const char* directory, const char* name) {
  static char buffer[sizeof directory_path + 256];
  snprintf(buffer, sizeof buffer, "%s/%s", directory, name);
  return buffer;
}

/* 1 when bytes[0, length) is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF). */
static int valid_utf8(const char* text, size_t length) {
  const unsigned char* bytes = (const unsigned char*)text;
  size_t i = 0;
  while (i < length) {
    const unsigned char lead = bytes[i];
    size_t count;
    unsigned int minimum, code;
    if (lead < 0x80) {
      ++i;
      continue;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
      count = 1, minimum = 0x80, code = lead & 0x1Fu;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      count = 2, minimum = 0x800, code = lead & 0x0Fu;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      count = 3, minimum = 0x10000, code = lead & 0x07u;
    } else {
      return 0;
    }
    for (size_t k = 1; k <= count; ++k) {
      if (i + k >= length || (bytes[i + k] & 0xC0) != 0x80) return 0;
      code = (code << 6) | (bytes[i + k] & 0x3Fu);
    }
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
    i += count + 1;
  }
  return 1;
}

static lw_model_options model_options(void) {
  lw_model_options options = cuda_default_model_options();
  options.backend = use_cuda ? LW_BACKEND_CUDA : LW_BACKEND_CPU;
  options.cpu_threads = 2;
  return options;
}

static lw_sampling_params greedy(int32_t max_tokens) {
  lw_sampling_params params = cuda_default_sampling_params();
  params.temperature = 0.0f;
  params.max_tokens = max_tokens;
  return params;
}

static void test_status_strings(void) {
  CHECK(cuda_api_version() == LW_API_VERSION);
  for (int a = 0; a < LW_STATUS_COUNT; ++a) {
    const char* name = cuda_status_name((lw_status)a);
    CHECK(name != NULL && strncmp(name, "LW_STATUS_", 10) == 0);
    CHECK(cuda_status_string((lw_status)a) != NULL && cuda_status_string((lw_status)a)[0] != '\0');
    for (int b = 0; b < a; ++b) CHECK(strcmp(name, cuda_status_name((lw_status)b)) != 0);
  }
  CHECK(strcmp(cuda_status_name(LW_STATUS_INVALID_UTF8), "LW_STATUS_INVALID_UTF8") == 0);
  CHECK(strcmp(cuda_status_name((lw_status)LW_STATUS_COUNT), "LW_STATUS_UNKNOWN") == 0);
  CHECK(cuda_last_error() != NULL);
}

static void test_null_handles(void) {
  int32_t token = 0, finished = 0;
  const char* text = NULL;
  size_t length = 0;
  lw_model_info info;
  lw_residency_report report;
  lw_inference_stats stats;
  cuda_model* model = NULL;
  cuda_inference* inference = NULL;
  const int32_t ids[1] = {1};
  EXPECT_STATUS(LW_STATUS_NULL_HANDLE, cuda_free(NULL));
  EXPECT_STATUS(LW_STATUS_NULL_HANDLE, cuda_load_model(NULL, model_path, NULL, &model));
  EXPECT_STATUS(LW_STATUS_NULL_HANDLE, cuda_model_free(NULL));
  EXPECT_STATUS(LW_STATUS_NULL_HANDLE, cuda_model_get_info(NULL, &info));
  EXPECT_STATUS(LW_STATUS_NULL_HANDLE, cuda_check_vram_residency(NULL, &report));
  EXPECT_STATUS(LW_STATUS_NULL_HANDLE, cuda_inference_start(NULL, "hi", NULL, &inference));
  EXPECT_STATUS(LW_STATUS_NULL_HANDLE, cuda_inference_start_tokens(NULL, ids, 1, NULL, &inference));
  EXPECT_STATUS(LW_STATUS_NULL_HANDLE, cuda_inference_next_token(NULL, &token, &text, &length, &finished));
  EXPECT_STATUS(LW_STATUS_NULL_HANDLE, cuda_inference_cancel(NULL));
  EXPECT_STATUS(LW_STATUS_NULL_HANDLE, cuda_inference_get_stats(NULL, &stats));
  EXPECT_STATUS(LW_STATUS_NULL_HANDLE, cuda_inference_free(NULL));
  CHECK(model == NULL && inference == NULL); /* out-parameters untouched on failure */
}

static cuda_context* make_context(void) {
  cuda_context* context = NULL;
  const lw_status status = cuda_init(use_cuda ? 0 : LW_DEVICE_CPU, &context);
  if (use_cuda && (status == LW_STATUS_NO_DEVICE || status == LW_STATUS_NOT_BUILT_WITH_CUDA)) {
    printf("SKIPPED: %s (%s)\n", cuda_status_name(status), cuda_last_error());
    exit(77);
  }
  EXPECT_STATUS(LW_STATUS_OK, status);
  if (context == NULL) {
    fprintf(stderr, "cannot continue without a context\n");
    exit(1);
  }
  return context;
}

static void test_init(void) {
  cuda_context* context = NULL;
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_init(LW_DEVICE_CPU, NULL));
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_init(-5, &context));
  {
    const lw_status status = cuda_init(9999, &context);
    CHECK(status == LW_STATUS_NO_DEVICE || status == LW_STATUS_NOT_BUILT_WITH_CUDA);
  }
  CHECK(context == NULL);
}

static void test_load_errors(cuda_context* context) {
  cuda_model* model = NULL;
  lw_model_options options = model_options();
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_load_model(context, model_path, &options, NULL));
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_load_model(context, NULL, &options, &model));
  EXPECT_STATUS(LW_STATUS_FILE_NOT_FOUND,
                cuda_load_model(context, path_in(directory_path, "missing.gguf"), &options, &model));
  CHECK(strstr(cuda_last_error(), "missing.gguf") != NULL);
  EXPECT_STATUS(LW_STATUS_FILE_NOT_FOUND, cuda_load_model(context, "", &options, &model));
  EXPECT_STATUS(LW_STATUS_IS_DIRECTORY, cuda_load_model(context, directory_path, &options, &model));
  EXPECT_STATUS(LW_STATUS_MALFORMED_FILE,
                cuda_load_model(context, path_in(directory_path, "not_gguf.gguf"), &options, &model));
  EXPECT_STATUS(LW_STATUS_MALFORMED_FILE,
                cuda_load_model(context, path_in(directory_path, "no_tokenizer.gguf"), &options, &model));
  EXPECT_STATUS(LW_STATUS_UNSUPPORTED_ARCHITECTURE,
                cuda_load_model(context, path_in(directory_path, "unsupported_arch.gguf"), &options, &model));
  CHECK(strstr(cuda_last_error(), "gpt9") != NULL);

  options = model_options();
  options.backend = 7;
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_load_model(context, model_path, &options, &model));
  options = model_options();
  options.context_length = -1;
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_load_model(context, model_path, &options, &model));
  options = model_options();
  options.context_length = 1000000; /* the model's context is 256 */
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_load_model(context, model_path, &options, &model));
  options = model_options();
  options.vram_budget_bytes = -1;
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_load_model(context, model_path, &options, &model));
  options = model_options();
  options.upload_chunk_bytes = 5;
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_load_model(context, model_path, &options, &model));
  options = model_options();
  options.cpu_threads = -2;
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_load_model(context, model_path, &options, &model));
  if (use_cuda) {
    options = model_options();
    options.vram_budget_bytes = 4096; /* far below weights + KV cache + scratch */
    EXPECT_STATUS(LW_STATUS_OUT_OF_DEVICE_MEMORY, cuda_load_model(context, model_path, &options, &model));
  } else {
    options = model_options();
    options.backend = LW_BACKEND_CUDA; /* a host-only context has no device */
    {
      const lw_status status = cuda_load_model(context, model_path, &options, &model);
      CHECK(status == LW_STATUS_INVALID_ARGUMENT || status == LW_STATUS_NOT_BUILT_WITH_CUDA);
    }
  }
  CHECK(model == NULL);
}

/* Runs one generation to its end; returns the number of tokens, writes ids and text. */
static int generate(cuda_model* model, const char* prompt, const lw_sampling_params* params, int32_t* ids,
                    int capacity, char* text, size_t text_capacity, int* empty_pieces) {
  cuda_inference* inference = NULL;
  int count = 0;
  size_t used = 0;
  int32_t finished = 0;
  text[0] = '\0';
  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_start(model, prompt, params, &inference));
  if (inference == NULL) return 0;
  while (!finished && count < capacity) {
    int32_t token = -1;
    const char* piece = NULL;
    size_t length = 0;
    const lw_status status = cuda_inference_next_token(inference, &token, &piece, &length, &finished);
    EXPECT_STATUS(LW_STATUS_OK, status);
    if (status != LW_STATUS_OK) break;
    CHECK(piece != NULL && strlen(piece) == length);
    CHECK(valid_utf8(piece, length));
    if (length == 0 && empty_pieces != NULL) ++*empty_pieces;
    ids[count++] = token;
    if (used + length < text_capacity) {
      memcpy(text + used, piece, length);
      used += length;
      text[used] = '\0';
    }
  }
  CHECK(finished == 1);
  {
    int32_t token;
    const char* piece;
    size_t length;
    EXPECT_STATUS(LW_STATUS_WRONG_ORDER,
                  cuda_inference_next_token(inference, &token, &piece, &length, &finished));
  }
  {
    lw_inference_stats stats;
    EXPECT_STATUS(LW_STATUS_OK, cuda_inference_get_stats(inference, &stats));
    CHECK(stats.generated_tokens == count);
    CHECK(stats.finished == 1);
    CHECK(stats.prompt_tokens > 0);
    CHECK(stats.stop_reason == LW_STOP_TOKEN_LIMIT || stats.stop_reason == LW_STOP_END_OF_GENERATION);
    CHECK(stats.stop_reason != LW_STOP_TOKEN_LIMIT || count == params->max_tokens);
  }
  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_free(inference));
  CHECK(valid_utf8(text, used));
  return count;
}

static void test_start_errors(cuda_model* model, const lw_model_info* info) {
  cuda_inference* inference = NULL;
  lw_sampling_params params;
  const float nan = nanf("");
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_inference_start(model, "hi", NULL, NULL));
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_inference_start(model, NULL, NULL, &inference));
  EXPECT_STATUS(LW_STATUS_EMPTY_PROMPT, cuda_inference_start(model, "", NULL, &inference));
  EXPECT_STATUS(LW_STATUS_INVALID_UTF8, cuda_inference_start(model, "ok \xff\xfe", NULL, &inference));
  CHECK(strstr(cuda_last_error(), "offset") != NULL);
  EXPECT_STATUS(LW_STATUS_INVALID_UTF8,
                cuda_inference_start(model, "\xe2\x82", NULL, &inference)); /* truncated */
  EXPECT_STATUS(LW_STATUS_INVALID_UTF8,
                cuda_inference_start(model, "\xc0\xaf", NULL, &inference)); /* overlong */
  EXPECT_STATUS(LW_STATUS_INVALID_UTF8,
                cuda_inference_start(model, "\xed\xa0\x80", NULL, &inference)); /* surrogate */

#define EXPECT_BAD_PARAM(field, value)                                                                 \
  do {                                                                                                 \
    params = cuda_default_sampling_params();                                                           \
    params.field = (value);                                                                            \
    EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_inference_start(model, "hi", &params, &inference)); \
  } while (0)
  EXPECT_BAD_PARAM(temperature, nan);
  EXPECT_BAD_PARAM(temperature, -0.5f);
  EXPECT_BAD_PARAM(temperature, INFINITY);
  EXPECT_BAD_PARAM(top_k, -1);
  EXPECT_BAD_PARAM(top_p, 0.0f);
  EXPECT_BAD_PARAM(top_p, 1.5f);
  EXPECT_BAD_PARAM(top_p, nan);
  EXPECT_BAD_PARAM(min_p, -0.1f);
  EXPECT_BAD_PARAM(min_p, nan);
  EXPECT_BAD_PARAM(repeat_penalty, 0.0f);
  EXPECT_BAD_PARAM(repeat_penalty, -1.0f);
  EXPECT_BAD_PARAM(repeat_penalty, INFINITY);
  EXPECT_BAD_PARAM(repeat_last_n, -2);
  EXPECT_BAD_PARAM(max_tokens, 0);
  EXPECT_BAD_PARAM(max_tokens, -3);
  EXPECT_BAD_PARAM(max_tokens, 1000000000);
  EXPECT_BAD_PARAM(chat, 2);
#undef EXPECT_BAD_PARAM

  {
    /* ~300 tokens of prompt: more than the 256-position context */
    static char long_prompt[8192];
    long_prompt[0] = '\0';
    for (int i = 0; i < 150; ++i) strcat(long_prompt, "hello world ");
    params = greedy(8);
    EXPECT_STATUS(LW_STATUS_PROMPT_TOO_LONG, cuda_inference_start(model, long_prompt, &params, &inference));
    /* a prompt that fits alone but not with max_tokens */
    params = greedy((int32_t)info->context_length - 3);
    EXPECT_STATUS(LW_STATUS_PROMPT_TOO_LONG,
                  cuda_inference_start(model, "hello world, how are you?", &params, &inference));
  }
  {
    int32_t ids[3] = {1, 450, 3186};
    params = greedy(4);
    EXPECT_STATUS(LW_STATUS_EMPTY_PROMPT, cuda_inference_start_tokens(model, ids, 0, &params, &inference));
    EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT,
                  cuda_inference_start_tokens(model, NULL, 3, &params, &inference));
    ids[1] = (int32_t)info->vocab_size;
    EXPECT_STATUS(LW_STATUS_TOKEN_OUT_OF_RANGE,
                  cuda_inference_start_tokens(model, ids, 3, &params, &inference));
    ids[1] = -1;
    EXPECT_STATUS(LW_STATUS_TOKEN_OUT_OF_RANGE,
                  cuda_inference_start_tokens(model, ids, 3, &params, &inference));
    ids[1] = 450;
    params.chat = 1;
    EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT,
                  cuda_inference_start_tokens(model, ids, 3, &params, &inference));
  }
  CHECK(inference == NULL);
}

static void test_generation(cuda_model* model) {
  static int32_t first_ids[64], second_ids[64];
  static char first_text[4096], second_text[4096];
  int empty_pieces = 0;
  lw_sampling_params params = greedy(40);
  const int first = generate(model, "Hello, wörld! 日本語 ✓", &params, first_ids, 64, first_text,
                             sizeof first_text, &empty_pieces);
  const int second = generate(model, "Hello, wörld! 日本語 ✓", &params, second_ids, 64, second_text,
                              sizeof second_text, NULL);
  CHECK(first > 0);
  CHECK(first == second && memcmp(first_ids, second_ids, sizeof(int32_t) * (size_t)first) == 0);
  CHECK(strcmp(first_text, second_text) == 0);

  params = cuda_default_sampling_params();
  params.temperature = 1.0f;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.seed = 1234;
  params.max_tokens = 48;
  {
    const int a = generate(model, "Once upon a time", &params, first_ids, 64, first_text, sizeof first_text,
                           &empty_pieces);
    const int b =
        generate(model, "Once upon a time", &params, second_ids, 64, second_text, sizeof second_text, NULL);
    CHECK(a == b && memcmp(first_ids, second_ids, sizeof(int32_t) * (size_t)a) == 0);
    CHECK(strcmp(first_text, second_text) == 0);
  }
  params.chat = 1;
  CHECK(generate(model, "Write a haiku about rain.", &params, first_ids, 64, first_text, sizeof first_text,
                 NULL) > 0);
  printf("generation: %d + %d tokens, %d empty pieces (characters held back); sampled text: %.60s\n", first,
         second, empty_pieces, first_text);
}

static void test_order_busy_cancel_and_handles(cuda_model* model) {
  cuda_inference* inference = NULL;
  cuda_inference* second = NULL;
  int32_t token, finished;
  const char* text;
  size_t length;
  lw_sampling_params params = greedy(8);

  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_start(model, "one", &params, &inference));
  EXPECT_STATUS(LW_STATUS_MODEL_BUSY, cuda_inference_start(model, "two", &params, &second));
  CHECK(second == NULL);
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT,
                cuda_inference_next_token(inference, &token, NULL, &length, &finished));
  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_next_token(inference, &token, &text, &length, &finished));
  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_cancel(inference));
  EXPECT_STATUS(LW_STATUS_CANCELLED, cuda_inference_next_token(inference, &token, &text, &length, &finished));
  EXPECT_STATUS(LW_STATUS_CANCELLED, cuda_inference_next_token(inference, &token, &text, &length, &finished));
  {
    lw_inference_stats stats;
    EXPECT_STATUS(LW_STATUS_OK, cuda_inference_get_stats(inference, &stats));
    CHECK(stats.stop_reason == LW_STOP_CANCELLED);
  }
  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_free(inference));

  /* freed handles */
  EXPECT_STATUS(LW_STATUS_INVALID_HANDLE,
                cuda_inference_next_token(inference, &token, &text, &length, &finished));
  EXPECT_STATUS(LW_STATUS_INVALID_HANDLE, cuda_inference_cancel(inference));
  EXPECT_STATUS(LW_STATUS_INVALID_HANDLE, cuda_inference_free(inference));
  /* a handle of another kind */
  EXPECT_STATUS(LW_STATUS_INVALID_HANDLE, cuda_inference_free((cuda_inference*)model));
  EXPECT_STATUS(LW_STATUS_INVALID_HANDLE, cuda_model_free((cuda_model*)(void*)&params));

  /* cancelled before the first token: the prefill never runs */
  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_start(model, "three", &params, &inference));
  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_cancel(inference));
  EXPECT_STATUS(LW_STATUS_CANCELLED, cuda_inference_next_token(inference, &token, &text, &length, &finished));
  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_free(inference));

  /* the model still serves the next request */
  {
    static int32_t ids[16];
    static char out[1024];
    CHECK(generate(model, "four", &params, ids, 16, out, sizeof out, NULL) > 0);
  }
}

static void test_residency(cuda_model* model) {
  lw_residency_report report;
  memset(&report, 0x5a, sizeof report);
  if (!use_cuda) {
    EXPECT_STATUS(LW_STATUS_UNSUPPORTED, cuda_check_vram_residency(model, &report));
    return;
  }
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_check_vram_residency(model, NULL));
  EXPECT_STATUS(LW_STATUS_OK, cuda_check_vram_residency(model, &report));
  CHECK(report.ok == 1);
  CHECK(report.allocations == 3);
  CHECK(report.non_device == 0);
  CHECK(report.device_bytes > 6 * 1000 * 1000); /* two 32064 x 24 fp32 matrices alone */
  CHECK(report.first_violation[0] == '\0');
  printf("residency: %lld bytes in %lld device allocations\n", (long long)report.device_bytes,
         (long long)report.allocations);
}

static void test_numeric_error(cuda_context* context) {
  cuda_model* model = NULL;
  cuda_inference* inference = NULL;
  int32_t token, finished;
  const char* text;
  size_t length;
  lw_model_options options = model_options();
  lw_sampling_params params = greedy(4);
  EXPECT_STATUS(LW_STATUS_OK,
                cuda_load_model(context, path_in(directory_path, "nan_weights.gguf"), &options, &model));
  if (model == NULL) return;
  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_start(model, "hello", &params, &inference));
  EXPECT_STATUS(LW_STATUS_NUMERIC_ERROR,
                cuda_inference_next_token(inference, &token, &text, &length, &finished));
  EXPECT_STATUS(LW_STATUS_NUMERIC_ERROR,
                cuda_inference_next_token(inference, &token, &text, &length, &finished));
  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_free(inference));
  EXPECT_STATUS(LW_STATUS_OK, cuda_model_free(model));
}

static void test_cascading_free(cuda_context* context, cuda_model* model) {
  cuda_inference* inference = NULL;
  lw_model_info info;
  lw_sampling_params params = greedy(4);
  EXPECT_STATUS(LW_STATUS_OK, cuda_inference_start(model, "bye", &params, &inference));
  EXPECT_STATUS(LW_STATUS_OK, cuda_model_free(model));
  EXPECT_STATUS(LW_STATUS_INVALID_HANDLE, cuda_inference_cancel(inference));
  EXPECT_STATUS(LW_STATUS_INVALID_HANDLE, cuda_model_get_info(model, &info));
  EXPECT_STATUS(LW_STATUS_INVALID_HANDLE, cuda_model_free(model));

  {
    cuda_model* other = NULL;
    lw_model_options options = model_options();
    EXPECT_STATUS(LW_STATUS_OK, cuda_load_model(context, model_path, &options, &other));
    EXPECT_STATUS(LW_STATUS_OK, cuda_free(context));
    EXPECT_STATUS(LW_STATUS_INVALID_HANDLE, cuda_model_get_info(other, &info));
    EXPECT_STATUS(LW_STATUS_INVALID_HANDLE, cuda_load_model(context, model_path, &options, &other));
    EXPECT_STATUS(LW_STATUS_INVALID_HANDLE, cuda_free(context));
  }
}

int main(int argc, char** argv) {
  cuda_context* context;
  cuda_model* model = NULL;
  lw_model_info info;
  if (argc != 3 || (strcmp(argv[2], "cpu") != 0 && strcmp(argv[2], "cuda") != 0)) {
    fprintf(stderr, "usage: %s MODEL_DIRECTORY cpu|cuda\n", argv[0]);
    return 2;
  }
  use_cuda = strcmp(argv[2], "cuda") == 0;
  snprintf(directory_path, sizeof directory_path, "%s", argv[1]);
  snprintf(model_path, sizeof model_path, "%s/model.gguf", argv[1]);

  test_status_strings();
  test_null_handles();
  context = make_context();
  test_init();
  test_load_errors(context);
  {
    lw_model_options options = model_options();
    EXPECT_STATUS(LW_STATUS_OK, cuda_load_model(context, model_path, &options, &model));
  }
  if (model == NULL) {
    fprintf(stderr, "cannot continue without the model: %s\n", cuda_last_error());
    return 1;
  }
  EXPECT_STATUS(LW_STATUS_INVALID_ARGUMENT, cuda_model_get_info(model, NULL));
  EXPECT_STATUS(LW_STATUS_OK, cuda_model_get_info(model, &info));
  CHECK(info.vocab_size == 32064);
  CHECK(info.context_length == 256);
  CHECK(strcmp(info.architecture, "phi3") == 0);
  CHECK(info.backend == (use_cuda ? LW_BACKEND_CUDA : LW_BACKEND_CPU));
  test_residency(model);
  test_start_errors(model, &info);
  test_generation(model);
  test_order_busy_cancel_and_handles(model);
  test_residency(model); /* still device-only after generating */
  test_numeric_error(context);
  test_cascading_free(context, model);

  printf("%d checks, %d failed (%s backend)\n", checks, failures, use_cuda ? "cuda" : "cpu");
  return failures == 0 ? 0 : 1;
}
