//! `Inference`: one generation on a model, an iterator of the tokens it produces.
use std::marker::PhantomData;
use std::os::raw::c_char;
use std::ptr;

use crate::model::Model;
use crate::status::{check, Status};
use crate::sys;

/// `lw_sampling_params`; `Default` is `cuda_default_sampling_params()` (temperature 0.8, top_k
/// 40, top_p 0.95, min_p 0.05, repeat_penalty 1, repeat_last_n 64, seed 0, max_tokens 64).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingParams {
    /// Finite, >= 0; 0 = greedy.
    pub temperature: f32,
    /// >= 0; 0 = all tokens.
    pub top_k: i32,
    /// In (0, 1]; 1 = disabled.
    pub top_p: f32,
    /// In [0, 1]; 0 = disabled.
    pub min_p: f32,
    /// Finite, > 0; 1 = disabled.
    pub repeat_penalty: f32,
    /// >= -1: -1 = all history, 0 = none.
    pub repeat_last_n: i32,
    pub seed: u64,
    /// 1 .. the model's context length.
    pub max_tokens: i32,
    /// Wrap the prompt in the model's chat format.
    pub chat: bool,
}

impl Default for SamplingParams {
    fn default() -> SamplingParams {
        // SAFETY: returns a struct by value.
        let raw = unsafe { sys::cuda_default_sampling_params() };
        SamplingParams {
            temperature: raw.temperature,
            top_k: raw.top_k,
            top_p: raw.top_p,
            min_p: raw.min_p,
            repeat_penalty: raw.repeat_penalty,
            repeat_last_n: raw.repeat_last_n,
            seed: raw.seed,
            max_tokens: raw.max_tokens,
            chat: raw.chat != 0,
        }
    }
}

impl SamplingParams {
    /// The defaults with temperature 0 (argmax) and `max_tokens` tokens.
    pub fn greedy(max_tokens: i32) -> SamplingParams {
        SamplingParams { temperature: 0.0, max_tokens, ..SamplingParams::default() }
    }

    pub(crate) fn to_raw(self) -> sys::lw_sampling_params {
        sys::lw_sampling_params {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            repeat_last_n: self.repeat_last_n,
            seed: self.seed,
            max_tokens: self.max_tokens,
            chat: i32::from(self.chat),
        }
    }
}

/// One generated token and the text that became settled with it (possibly empty: a multi-byte
/// character is held back until complete; special tokens print nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub token: i32,
    pub text: String,
}

/// Why an inference stopped (`lw_stop_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    StillRunning,
    EndOfGeneration,
    TokenLimit,
    Cancelled,
    Failed,
}

/// `lw_inference_stats`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub prompt_tokens: i64,
    pub generated_tokens: i64,
    pub stop_reason: StopReason,
    pub finished: bool,
    pub prefill_ms: f64,
    pub decode_ms: f64,
}

/// Owns a `cuda_inference`; dropping it frees it (`cuda_inference_free`) and the model can start
/// another. Iterating yields `Ok(Piece)` per token until the end of generation or `max_tokens`,
/// or one `Err(Status)` (cancelled, numeric error, ...) after which the iteration ends:
///
/// ```no_run
/// # fn main() -> Result<(), llama_worker::Status> {
/// # let context = llama_worker::Context::cpu()?;
/// # let model = context.load_model("model.gguf", &llama_worker::ModelOptions::cpu())?;
/// for piece in model.start("Write a haiku", &llama_worker::SamplingParams::greedy(32))? {
///     print!("{}", piece?.text);
/// }
/// # Ok(())
/// # }
/// ```
///
/// `Send` (it may move to another thread) but not `Sync`: the C API wants one thread at a time on
/// an inference; `cancel_handle()` gives the one operation another thread may run.
#[derive(Debug)]
pub struct Inference<'model> {
    handle: *mut sys::cuda_inference,
    done: bool,
    _model: PhantomData<&'model Model<'model>>,
}

// SAFETY: the C API allows an inference to be used from any thread, one at a time; without Sync
// the borrow rules give exactly that.
unsafe impl Send for Inference<'_> {}

impl<'model> Inference<'model> {
    pub(crate) fn from_raw(handle: *mut sys::cuda_inference, model: PhantomData<&'model Model<'model>>) -> Inference<'model> {
        Inference { handle, done: false, _model: model }
    }

    /// The next token (`cuda_inference_next_token`); Ok(None) once the generation is finished.
    pub fn next_piece(&mut self) -> Result<Option<Piece>, Status> {
        if self.done {
            return Ok(None);
        }
        let mut token = 0i32;
        let mut text: *const c_char = ptr::null();
        let mut length = 0usize;
        let mut finished = 0i32;
        // SAFETY: live handle; valid out-pointers.
        let status = unsafe { sys::cuda_inference_next_token(self.handle, &mut token, &mut text, &mut length, &mut finished) };
        if let Err(error) = check(status) {
            self.done = true;
            return Err(error);
        }
        // SAFETY: on success text points to `length` bytes owned by the inference, valid until the
        // next call on it; they are copied before this function returns.
        let bytes = if text.is_null() { &[][..] } else { unsafe { std::slice::from_raw_parts(text as *const u8, length) } };
        self.done = finished != 0;
        Ok(Some(Piece { token, text: String::from_utf8_lossy(bytes).into_owned() }))
    }

    /// Everything that is left, concatenated.
    pub fn text(&mut self) -> Result<String, Status> {
        let mut text = String::new();
        while let Some(piece) = self.next_piece()? {
            text.push_str(&piece.text);
        }
        Ok(text)
    }

    /// Asks the generation to stop: the running or next step answers `Cancelled`.
    pub fn cancel(&self) -> Result<(), Status> {
        self.cancel_handle().cancel()
    }

    /// A handle that cancels this inference from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle { handle: self.handle }
    }

    /// `cuda_inference_get_stats`.
    pub fn stats(&self) -> Result<Stats, Status> {
        // SAFETY: plain data; all-zero is valid.
        let mut raw: sys::lw_inference_stats = unsafe { std::mem::zeroed() };
        // SAFETY: live handle; valid out-pointer.
        check(unsafe { sys::cuda_inference_get_stats(self.handle, &mut raw) })?;
        let stop_reason = match raw.stop_reason {
            sys::LW_STOP_END_OF_GENERATION => StopReason::EndOfGeneration,
            sys::LW_STOP_TOKEN_LIMIT => StopReason::TokenLimit,
            sys::LW_STOP_CANCELLED => StopReason::Cancelled,
            sys::LW_STOP_FAILED => StopReason::Failed,
            _ => StopReason::StillRunning,
        };
        Ok(Stats {
            prompt_tokens: raw.prompt_tokens,
            generated_tokens: raw.generated_tokens,
            stop_reason,
            finished: raw.finished != 0,
            prefill_ms: raw.prefill_ms,
            decode_ms: raw.decode_ms,
        })
    }
}

impl Iterator for Inference<'_> {
    type Item = Result<Piece, Status>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_piece().transpose()
    }
}

impl Drop for Inference<'_> {
    fn drop(&mut self) {
        // SAFETY: issued by cuda_inference_start*, freed exactly once, here.
        unsafe {
            sys::cuda_inference_free(self.handle);
        }
    }
}

/// Cancels one inference from any thread (`cuda_inference_cancel`). The handle is a registry key,
/// never reused: after the inference is freed, `cancel` answers `InvalidHandle` and touches nothing.
#[derive(Clone, Copy, Debug)]
pub struct CancelHandle {
    handle: *mut sys::cuda_inference,
}

// SAFETY: cuda_inference_cancel is safe from any thread and takes no model lock; a stale handle
// is detected by the registry (llama_worker.h, "Handles").
unsafe impl Send for CancelHandle {}
unsafe impl Sync for CancelHandle {}

impl CancelHandle {
    pub fn cancel(&self) -> Result<(), Status> {
        // SAFETY: any handle value is accepted; freed ones answer LW_STATUS_INVALID_HANDLE.
        check(unsafe { sys::cuda_inference_cancel(self.handle) })
    }
}
