//! The raw declarations of `engine/include/llama_worker.h`, one for one. `tests/header_sync.rs`
//! parses the header and fails when a function, struct field, enum value or constant here
//! differs from it. Prefer the safe layer (`Context`, `Model`, `Inference`).
#![allow(non_camel_case_types)]

use std::os::raw::c_char;

pub const LW_API_VERSION: i32 = 2;

pub type lw_status = i32;
pub const LW_STATUS_OK: lw_status = 0;
pub const LW_STATUS_NULL_HANDLE: lw_status = 1;
pub const LW_STATUS_INVALID_HANDLE: lw_status = 2;
pub const LW_STATUS_WRONG_ORDER: lw_status = 3;
pub const LW_STATUS_INVALID_ARGUMENT: lw_status = 4;
pub const LW_STATUS_EMPTY_PROMPT: lw_status = 5;
pub const LW_STATUS_INVALID_UTF8: lw_status = 6;
pub const LW_STATUS_TOKEN_OUT_OF_RANGE: lw_status = 7;
pub const LW_STATUS_PROMPT_TOO_LONG: lw_status = 8;
pub const LW_STATUS_FILE_NOT_FOUND: lw_status = 9;
pub const LW_STATUS_IS_DIRECTORY: lw_status = 10;
pub const LW_STATUS_IO_ERROR: lw_status = 11;
pub const LW_STATUS_MALFORMED_FILE: lw_status = 12;
pub const LW_STATUS_UNSUPPORTED_ARCHITECTURE: lw_status = 13;
pub const LW_STATUS_UNSUPPORTED: lw_status = 14;
pub const LW_STATUS_OUT_OF_DEVICE_MEMORY: lw_status = 15;
pub const LW_STATUS_OUT_OF_HOST_MEMORY: lw_status = 16;
pub const LW_STATUS_NO_DEVICE: lw_status = 17;
pub const LW_STATUS_DEVICE_ERROR: lw_status = 18;
pub const LW_STATUS_DEVICE_FAILED: lw_status = 19;
pub const LW_STATUS_MODEL_BUSY: lw_status = 20;
pub const LW_STATUS_CANCELLED: lw_status = 21;
pub const LW_STATUS_NOT_BUILT_WITH_CUDA: lw_status = 22;
pub const LW_STATUS_NUMERIC_ERROR: lw_status = 23;
pub const LW_STATUS_INTERNAL: lw_status = 24;
pub const LW_STATUS_INFERENCE_LIMIT: lw_status = 25;
pub const LW_STATUS_KV_CACHE_FULL: lw_status = 26;
pub const LW_STATUS_COUNT: i32 = 27;

pub const LW_DEVICE_CPU: i32 = -1;

pub type lw_backend = i32;
pub const LW_BACKEND_CUDA: lw_backend = 0;
pub const LW_BACKEND_CPU: lw_backend = 1;

pub type lw_stop_reason = i32;
pub const LW_STOP_NONE: lw_stop_reason = 0;
pub const LW_STOP_END_OF_GENERATION: lw_stop_reason = 1;
pub const LW_STOP_TOKEN_LIMIT: lw_stop_reason = 2;
pub const LW_STOP_CANCELLED: lw_stop_reason = 3;
pub const LW_STOP_FAILED: lw_stop_reason = 4;

/// Opaque handle types: only pointers to them exist.
#[repr(C)]
pub struct cuda_context {
    _private: [u8; 0],
}
#[repr(C)]
pub struct cuda_model {
    _private: [u8; 0],
}
#[repr(C)]
pub struct cuda_inference {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lw_model_options {
    pub backend: i32,
    pub cpu_threads: i32,
    pub context_length: i64,
    pub vram_budget_bytes: i64,
    pub upload_chunk_bytes: i64,
    pub max_inferences: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct lw_model_info {
    pub vocab_size: i64,
    pub context_length: i64,
    pub layers: i64,
    pub embedding_width: i64,
    pub backend: i32,
    pub eos_token: i32,
    pub architecture: [c_char; 32],
    pub name: [c_char; 128],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct lw_residency_report {
    pub device_bytes: i64,
    pub allocations: i64,
    pub non_device: i64,
    pub ok: i32,
    pub first_violation: [c_char; 64],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lw_sampling_params {
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub min_p: f32,
    pub repeat_penalty: f32,
    pub repeat_last_n: i32,
    pub seed: u64,
    pub max_tokens: i32,
    pub chat: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lw_inference_stats {
    pub prompt_tokens: i64,
    pub generated_tokens: i64,
    pub stop_reason: i32,
    pub finished: i32,
    pub prefill_ms: f64,
    pub decode_ms: f64,
}

extern "C" {
    pub fn cuda_status_name(status: lw_status) -> *const c_char;
    pub fn cuda_status_string(status: lw_status) -> *const c_char;
    pub fn cuda_last_error() -> *const c_char;
    pub fn cuda_api_version() -> i32;

    pub fn cuda_init(device: i32, out_context: *mut *mut cuda_context) -> lw_status;
    pub fn cuda_free(context: *mut cuda_context) -> lw_status;

    pub fn cuda_default_model_options() -> lw_model_options;
    pub fn cuda_load_model(
        context: *mut cuda_context,
        path: *const c_char,
        options: *const lw_model_options,
        out_model: *mut *mut cuda_model,
    ) -> lw_status;
    pub fn cuda_model_free(model: *mut cuda_model) -> lw_status;
    pub fn cuda_model_get_info(model: *mut cuda_model, out_info: *mut lw_model_info) -> lw_status;
    pub fn cuda_check_vram_residency(model: *mut cuda_model, out_report: *mut lw_residency_report) -> lw_status;

    pub fn cuda_default_sampling_params() -> lw_sampling_params;
    pub fn cuda_inference_start(
        model: *mut cuda_model,
        prompt: *const c_char,
        params: *const lw_sampling_params,
        out_inference: *mut *mut cuda_inference,
    ) -> lw_status;
    pub fn cuda_inference_start_tokens(
        model: *mut cuda_model,
        tokens: *const i32,
        token_count: usize,
        params: *const lw_sampling_params,
        out_inference: *mut *mut cuda_inference,
    ) -> lw_status;
    pub fn cuda_inference_next_token(
        inference: *mut cuda_inference,
        out_token: *mut i32,
        out_text: *mut *const c_char,
        out_text_length: *mut usize,
        out_finished: *mut i32,
    ) -> lw_status;
    pub fn cuda_inference_cancel(inference: *mut cuda_inference) -> lw_status;
    pub fn cuda_inference_get_stats(inference: *mut cuda_inference, out_stats: *mut lw_inference_stats) -> lw_status;
    pub fn cuda_inference_free(inference: *mut cuda_inference) -> lw_status;
}
