/*
 * llama_worker.h — the C API of llama-worker: load a Llama-family GGUF model into GPU memory and
 * generate text from it token by token.
 *
 * C99 and C++ compatible; no C++ types, no exceptions cross it (every entry point catches them).
 *
 * Typical use:
 *
 *   cuda_context* context;  cuda_model* model;  cuda_inference* inference;
 *   if (cuda_init(0, &context) != LW_STATUS_OK) { puts(cuda_last_error()); ... }
 *   lw_model_options options = cuda_default_model_options();
 *   cuda_load_model(context, "model.gguf", &options, &model);
 *   lw_sampling_params params = cuda_default_sampling_params();
 *   cuda_inference_start(model, "Write a haiku", &params, &inference);
 *   for (int32_t finished = 0; !finished;) {
 *     int32_t token; const char* text; size_t length;
 *     if (cuda_inference_next_token(inference, &token, &text, &length, &finished) != LW_STATUS_OK) break;
 *     fwrite(text, 1, length, stdout);
 *   }
 *   cuda_inference_free(inference); cuda_model_free(model); cuda_free(context);
 *
 * Objects and ownership
 *   cuda_context    one per device (or LW_DEVICE_CPU: a host-only context for the CPU backend)
 *   cuda_model      a model loaded into a context (weights and KV cache); belongs to the context
 *   cuda_inference  one generation on a model; belongs to the model
 *   Freeing a parent frees its children: their handles become invalid (LW_STATUS_INVALID_HANDLE).
 *
 * Handles
 *   Handles are opaque: their values are keys into a registry, never pointers the library
 *   dereferences. A handle that was freed (or never issued, or is of another kind) is detected
 *   and answered with LW_STATUS_INVALID_HANDLE, so a double free or a use after free is an error
 *   status, never a crash. Handle values are never reused within a process.
 *
 * Errors
 *   Every function that can fail returns an lw_status. On failure, cuda_last_error() gives a
 *   message naming the problem (the file, the parameter and its value, the sizes involved). The
 *   message is per thread and is replaced by the next failing call on that thread; successful
 *   calls leave it unchanged. Out-parameters are written only on success (except where noted).
 *   A rejected request changes nothing: the model serves the next request. An inference whose
 *   cuda_inference_next_token failed (or was cancelled) answers that status again until it is
 *   freed; its model stays usable for a new inference.
 *
 *   LW_STATUS_DEVICE_FAILED is sticky: an unrecoverable CUDA error (an illegal address, a kernel
 *   fault) poisons the device for the rest of the process. Every context on that device is then
 *   marked failed and every later call on them, their models and their inferences answers
 *   LW_STATUS_DEVICE_FAILED (the free functions and cuda_inference_cancel still work; the frees
 *   release what they can). Restart the process to use the GPU again.
 *
 * Thread safety
 *   Every function may be called from any thread. The registry of handles is guarded by a mutex,
 *   and every model has its own mutex: calls on one model (and on its inference) are serialised,
 *   calls on different models run concurrently (two threads driving two models of one context,
 *   or of two contexts, is supported and tested).
 *   - A model loaded with max_inferences 0 or 1 (the default) has ONE KV cache, hence at most
 *     one live inference: cuda_inference_start on a model whose inference has not been freed answers
 *     LW_STATUS_MODEL_BUSY.
 *   - A model loaded with max_inferences N >= 2 (either backend) serves up to N live inferences
 *     at once from a shared, paged KV cache; start number N+1 answers LW_STATUS_INFERENCE_LIMIT,
 *     and a prompt whose KV blocks are not free LW_STATUS_KV_CACHE_FULL. Their
 *     cuda_inference_next_token calls do not take the model lock: threads each driving their
 *     own inference of one model run at once, and their tokens are computed together (one
 *     batched step for every inference that needs a token; whichever caller arrives first runs
 *     it while the others wait for it, and up to 4 tokens per inference are computed ahead).
 *     One thread pulling its inferences round-robin gets the same batching. An inference that
 *     needs a new KV block when none is free fails alone with LW_STATUS_KV_CACHE_FULL (after
 *     its tokens computed so far). cuda_inference_cancel and cuda_inference_free of one
 *     inference take effect at once (mid-step: its result is dropped) and never change the
 *     others' tokens; the free gives its slot and KV blocks back immediately.
 *   cuda_inference_cancel may be called from another thread while
 *   cuda_inference_next_token runs (it takes no model lock); it stops a long prefill between
 *   chunks and a decode before its next step. The text pointer returned by
 *   cuda_inference_next_token stays valid until the next call on that inference or its free, so
 *   use an inference from one thread at a time (cancel excepted).
 *
 *   Freeing a handle (or a parent of it) while another thread is inside a call on it is safe:
 *   the object is destroyed when that call returns, and the call either
 *   - answers LW_STATUS_INVALID_HANDLE ("... was freed while <function> ran") and writes none of
 *     its out-parameters: cuda_inference_next_token (no *out_text into the freed inference),
 *     cuda_inference_get_stats, cuda_model_get_info, cuda_check_vram_residency;
 *     cuda_load_model whose context was freed meanwhile releases the model it built and returns
 *     no handle; cuda_inference_start(_tokens) whose model was freed starts nothing; or
 *   - completed before the free: its results are what a call before the free gives (the text
 *     pointer then stays valid until that free, as above).
 *   A free never leaves a child behind (nothing leaks), and freeing an inference, its model or
 *   its context raises the inference's cancel flag: a running cuda_inference_next_token stops at
 *   its next prefill chunk or decode step and answers LW_STATUS_INVALID_HANDLE. The frees do not
 *   wait for that call, except cuda_inference_free, which waits for the running (now cancelled)
 *   step to let go of the model.
 *
 * Determinism
 *   The same model file, backend, prompt, parameters and seed give the same tokens, run after run.
 *   With max_inferences >= 2, an inference's tokens and text do not depend on the other
 *   inferences: whatever they are, when they start, how many threads pull, and which are
 *   cancelled or freed, they are bit-for-bit those of the same request run alone on that model
 *   (each has its own sampler, seed and history; the batched forward computes every row with
 *   arithmetic that does not depend on the batch). On LW_BACKEND_CPU they are also those of a
 *   max_inferences 1 model. On LW_BACKEND_CUDA the batched forward uses other kernels than the
 *   single-inference one (products and attention that serve any number of rows alike, not the
 *   fused decode step), so a max_inferences >= 2 model and a max_inferences 1 model may differ
 *   in the last bits of their logits, hence, rarely, in a sampled token. Only timing varies;
 *   and whether an inference runs out of KV blocks depends on what the others hold.
 */
#ifndef LLAMA_WORKER_H_
#define LLAMA_WORKER_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: lw_model_options.max_inferences, LW_STATUS_INFERENCE_LIMIT, LW_STATUS_KV_CACHE_FULL */
#define LW_API_VERSION 2

/* ------------------------------------------------------------------------------------------ */
/* Status codes. Stable: values are never renumbered; new codes are appended.                  */
/* ------------------------------------------------------------------------------------------ */
typedef enum lw_status {
  LW_STATUS_OK = 0,
  LW_STATUS_NULL_HANDLE = 1,        /* a handle argument is NULL */
  LW_STATUS_INVALID_HANDLE = 2,     /* a handle that was freed, never issued, or of another kind */
  LW_STATUS_WRONG_ORDER = 3,        /* a call out of sequence (next token after the end) */
  LW_STATUS_INVALID_ARGUMENT = 4,   /* a bad value: NaN/inf/negative sampling parameter, max_tokens 0
                                       or beyond the context, NULL out-pointer, bad option */
  LW_STATUS_EMPTY_PROMPT = 5,       /* the prompt is empty (or encodes to no tokens) */
  LW_STATUS_INVALID_UTF8 = 6,       /* the prompt is not valid UTF-8 (the message gives the byte offset) */
  LW_STATUS_TOKEN_OUT_OF_RANGE = 7, /* a token id outside the model's vocabulary */
  LW_STATUS_PROMPT_TOO_LONG = 8,    /* prompt tokens + max_tokens exceed the context */
  LW_STATUS_FILE_NOT_FOUND = 9,     /* the model path does not exist */
  LW_STATUS_IS_DIRECTORY = 10,      /* the model path is a directory */
  LW_STATUS_IO_ERROR = 11,          /* not a regular file, or it cannot be opened, mapped or read */
  LW_STATUS_MALFORMED_FILE = 12,    /* not a valid GGUF model (bad header, sizes, missing tensor or
                                       tokenizer metadata) */
  LW_STATUS_UNSUPPORTED_ARCHITECTURE = 13, /* general.architecture is not llama, qwen2 or phi3 */
  LW_STATUS_UNSUPPORTED = 14,              /* a valid request the engine cannot serve (tensor type, chat
                                              template, residency check on the CPU backend) */
  LW_STATUS_OUT_OF_DEVICE_MEMORY = 15,     /* the model does not fit the device (or the VRAM budget) */
  LW_STATUS_OUT_OF_HOST_MEMORY = 16,       /* a host allocation failed */
  LW_STATUS_NO_DEVICE = 17,                /* no CUDA device with that index */
  LW_STATUS_DEVICE_ERROR = 18,             /* a CUDA call failed; the device is still usable */
  LW_STATUS_DEVICE_FAILED = 19,            /* sticky: the device hit an unrecoverable error (see above) */
  LW_STATUS_MODEL_BUSY = 20,               /* a model loaded with max_inferences 0 or 1 (one KV cache,
                                              API 1's behaviour) already has its live inference */
  LW_STATUS_CANCELLED = 21,                /* the inference was cancelled */
  LW_STATUS_NOT_BUILT_WITH_CUDA = 22,      /* this library was built without CUDA */
  LW_STATUS_NUMERIC_ERROR = 23,            /* the model produced NaN or infinite logits (corrupt weights) */
  LW_STATUS_INTERNAL = 24,                 /* a bug in llama-worker: please report the message */
  LW_STATUS_INFERENCE_LIMIT = 25,          /* a model loaded with max_inferences >= 2 already has that
                                              many live inferences: free one first */
  LW_STATUS_KV_CACHE_FULL = 26             /* the model's shared KV cache has no free blocks for this
                                              inference (the message names blocks needed and free) */
} lw_status;

#define LW_STATUS_COUNT 27

/* "LW_STATUS_INVALID_UTF8"; "LW_STATUS_UNKNOWN" for a value outside the enum. Never NULL. */
const char* cuda_status_name(lw_status status);
/* One line for humans: "the prompt is not valid UTF-8". Never NULL. */
const char* cuda_status_string(lw_status status);
/* The message of the last failing call on this thread ("" when none). Valid until the next
   failing call on this thread. Never NULL. */
const char* cuda_last_error(void);
/* LW_API_VERSION of the library (to compare with the header's). */
int32_t cuda_api_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Handles (opaque)                                                                            */
/* ------------------------------------------------------------------------------------------ */
typedef struct cuda_context cuda_context;
typedef struct cuda_model cuda_model;
typedef struct cuda_inference cuda_inference;

/* ------------------------------------------------------------------------------------------ */
/* Context                                                                                     */
/* ------------------------------------------------------------------------------------------ */
#define LW_DEVICE_CPU (-1) /* cuda_init device: no GPU; models must use LW_BACKEND_CPU */

/* Selects CUDA device `device` (0-based) and creates its CUDA context, or a host-only context
   for LW_DEVICE_CPU. LW_STATUS_NO_DEVICE when the index is out of range (or no device exists),
   LW_STATUS_NOT_BUILT_WITH_CUDA for a device index in a build without CUDA. */
lw_status cuda_init(int32_t device, cuda_context** out_context);
/* Frees the context, its models and their inferences. */
lw_status cuda_free(cuda_context* context);

/* ------------------------------------------------------------------------------------------ */
/* Model                                                                                       */
/* ------------------------------------------------------------------------------------------ */
typedef enum lw_backend {
  LW_BACKEND_CUDA = 0, /* weights and KV cache in device memory (cudaMalloc only) */
  LW_BACKEND_CPU = 1   /* the CPU reference backend: for tests and machines without a GPU */
} lw_backend;

typedef struct lw_model_options {
  int32_t backend;            /* an lw_backend value */
  int32_t cpu_threads;        /* LW_BACKEND_CPU worker threads; 0 = all cores; >= 0 */
  int64_t context_length;     /* KV cache positions; 0 = min(model's context, 4096); <= model's */
  int64_t vram_budget_bytes;  /* refuse to load beyond this many device bytes; 0 = free memory only */
  int64_t upload_chunk_bytes; /* pinned staging chunk for the upload; 0 = 1 MiB; else 4 KiB .. 1 GiB */
  int32_t max_inferences;     /* live inferences the model serves at once: 0 or 1 = one (API 1's
                                 behaviour, the default), 2 .. 256 = that many through a shared,
                                 paged KV cache and one batched step per token (either backend;
                                 on LW_BACKEND_CUDA the paged cache is fp16 device memory beside
                                 the single-inference cache, and the batched step reads a copy
                                 of every weight matrix in tensor-core order, 4.6 / 8.6 bits per
                                 weight for Q4_K / Q6_K, 2 bytes for other types, made
                                 when the cache is first allocated; the environment's
                                 LLAMA_WORKER_BATCHED_WEIGHTS=quant reads the file's blocks
                                 instead, slower). The shared cache holds
                                 context_length positions for every inference (each can reach the
                                 full context). */
} lw_model_options;

/* backend CUDA, cpu_threads 0, context_length 0, vram_budget_bytes 0, upload_chunk_bytes 0,
   max_inferences 1 */
lw_model_options cuda_default_model_options(void);

/* Loads a GGUF file: validates it, builds the tokenizer from its metadata, plans device memory
   (weights as stored + KV cache + scratch) against free memory and the budget, then uploads
   the weights through pinned staging buffers. A failed load frees everything it took.
   options may be NULL (the defaults). */
lw_status cuda_load_model(cuda_context* context, const char* path, const lw_model_options* options,
                          cuda_model** out_model);
/* Frees the model (its device memory) and its inference. */
lw_status cuda_model_free(cuda_model* model);

typedef struct lw_model_info {
  int64_t vocab_size;     /* token ids are in [0, vocab_size) */
  int64_t context_length; /* KV cache positions of this load */
  int64_t layers;
  int64_t embedding_width;
  int32_t backend;       /* lw_backend */
  int32_t eos_token;     /* end-of-sequence id, -1 when the vocabulary has none */
  char architecture[32]; /* general.architecture, NUL-terminated */
  char name[128];        /* general.name (truncated), NUL-terminated */
} lw_model_info;

lw_status cuda_model_get_info(cuda_model* model, lw_model_info* out_info);

typedef struct lw_residency_report {
  int64_t device_bytes;     /* bytes in allocations the driver reports as plain device memory */
  int64_t allocations;      /* allocations checked (weights, KV cache, scratch) */
  int64_t non_device;       /* allocations that are NOT plain device memory (0 when ok) */
  int32_t ok;               /* 1: every weight and KV buffer is device memory */
  char first_violation[64]; /* name of the first non-device allocation, "" when ok */
} lw_residency_report;

/* Asks the driver (cudaPointerGetAttributes) about every weight, KV-cache and scratch
   allocation. LW_STATUS_OK with report.ok == 0 when some allocation is not device memory;
   LW_STATUS_UNSUPPORTED for a model on the CPU backend. */
lw_status cuda_check_vram_residency(cuda_model* model, lw_residency_report* out_report);

/* ------------------------------------------------------------------------------------------ */
/* Inference                                                                                   */
/* ------------------------------------------------------------------------------------------ */
typedef struct lw_sampling_params {
  float temperature;     /* finite, >= 0; 0 = greedy (argmax) */
  int32_t top_k;         /* >= 0; 0 = all tokens */
  float top_p;           /* in (0, 1]; 1 = disabled */
  float min_p;           /* in [0, 1]; 0 = disabled */
  float repeat_penalty;  /* finite, > 0; 1 = disabled */
  int32_t repeat_last_n; /* >= -1: history the penalty looks at; -1 = all, 0 = none */
  uint64_t seed;         /* the sampler's random seed */
  int32_t max_tokens;    /* tokens to generate at most: 1 .. the model's context_length */
  int32_t chat;          /* 0 or 1: wrap the prompt in the model's chat format (ChatML, Phi-3) */
} lw_sampling_params;

/* temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, repeat_penalty 1, repeat_last_n 64,
   seed 0, max_tokens 64, chat 0 */
lw_sampling_params cuda_default_sampling_params(void);

/* Validates the parameters and encodes the prompt (NUL-terminated UTF-8); the prefill runs in
   the first cuda_inference_next_token, so it can be cancelled. params may be NULL (defaults). */
lw_status cuda_inference_start(cuda_model* model, const char* prompt, const lw_sampling_params* params,
                               cuda_inference** out_inference);
/* The same from token ids (no BOS is added, no chat wrapping: chat must be 0). token_count is
   checked against the context (LW_STATUS_PROMPT_TOO_LONG) before any id is read: a count larger
   than the context is never read past. */
lw_status cuda_inference_start_tokens(cuda_model* model, const int32_t* tokens, size_t token_count,
                                      const lw_sampling_params* params, cuda_inference** out_inference);

/* Produces the next token. *out_text / *out_text_length: the text that became settled with it,
   NUL-terminated, valid UTF-8, owned by the inference and valid until the next call on it;
   possibly empty (a multi-byte character or grapheme cluster is held back until complete, and
   special tokens print nothing). *out_finished = 1 on the last token: an end-of-generation
   token (EOS/EOT, whose text is empty) or the max_tokens-th token; the text of that call
   includes everything still held back. After that, LW_STATUS_WRONG_ORDER. After a failure the
   inference answers the same status again; free it and start a new one. */
lw_status cuda_inference_next_token(cuda_inference* inference, int32_t* out_token, const char** out_text,
                                    size_t* out_text_length, int32_t* out_finished);

/* Asks the inference to stop: the running (or next) cuda_inference_next_token returns
   LW_STATUS_CANCELLED, and so does every later one. Safe from any thread; returns at once (on a
   max_inferences >= 2 model its KV blocks go back after the running step). */
lw_status cuda_inference_cancel(cuda_inference* inference);

typedef enum lw_stop_reason {
  LW_STOP_NONE = 0,              /* still running */
  LW_STOP_END_OF_GENERATION = 1, /* EOS / EOT */
  LW_STOP_TOKEN_LIMIT = 2,       /* max_tokens reached */
  LW_STOP_CANCELLED = 3,
  LW_STOP_FAILED = 4
} lw_stop_reason;

typedef struct lw_inference_stats {
  int64_t prompt_tokens;    /* after encoding (BOS and chat markers included) */
  int64_t generated_tokens; /* the end-of-generation token included */
  int32_t stop_reason;      /* lw_stop_reason */
  int32_t finished;         /* 1 once no more tokens will come */
  double prefill_ms;        /* 0 on a max_inferences >= 2 model: its prefill runs inside the */
  double decode_ms;         /* shared steps, and decode_ms is the time spent in next_token calls */
} lw_inference_stats;

lw_status cuda_inference_get_stats(cuda_inference* inference, lw_inference_stats* out_stats);

/* Frees the inference; the model can start another one. On a max_inferences >= 2 model its
   slot and KV blocks go back at once. */
lw_status cuda_inference_free(cuda_inference* inference);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LLAMA_WORKER_H_ */
