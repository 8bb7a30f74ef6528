//! `Model`: a GGUF model loaded into a context, with its options, info and residency check.
use std::ffi::CString;
use std::marker::PhantomData;
use std::ptr;

use crate::context::Context;
use crate::inference::{Inference, SamplingParams};
use crate::status::{check, owned_array, Status, StatusCode};
use crate::sys;

/// Where a model's weights and KV cache live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Device memory of the context's CUDA device.
    Cuda,
    /// The CPU reference backend (host memory): tests and machines without a GPU.
    Cpu,
}

impl Backend {
    fn from_raw(raw: i32) -> Backend {
        if raw == sys::LW_BACKEND_CPU {
            Backend::Cpu
        } else {
            Backend::Cuda
        }
    }

    fn raw(self) -> i32 {
        match self {
            Backend::Cuda => sys::LW_BACKEND_CUDA,
            Backend::Cpu => sys::LW_BACKEND_CPU,
        }
    }
}

/// `lw_model_options`; `Default` is `cuda_default_model_options()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelOptions {
    pub backend: Backend,
    /// CPU backend worker threads; 0 = all cores.
    pub cpu_threads: i32,
    /// KV cache positions; 0 = min(the model's context, 4096).
    pub context_length: i64,
    /// Refuse to load beyond this many device bytes; 0 = free memory only.
    pub vram_budget_bytes: i64,
    /// Pinned staging chunk of the upload; 0 = 1 MiB.
    pub upload_chunk_bytes: i64,
    /// Live inferences at once: 0 or 1 = one; 2 .. 256 on the CPU backend only.
    pub max_inferences: i32,
}

impl Default for ModelOptions {
    fn default() -> ModelOptions {
        // SAFETY: returns a struct by value.
        let raw = unsafe { sys::cuda_default_model_options() };
        ModelOptions {
            backend: Backend::from_raw(raw.backend),
            cpu_threads: raw.cpu_threads,
            context_length: raw.context_length,
            vram_budget_bytes: raw.vram_budget_bytes,
            upload_chunk_bytes: raw.upload_chunk_bytes,
            max_inferences: raw.max_inferences,
        }
    }
}

impl ModelOptions {
    /// The defaults on the CPU backend.
    pub fn cpu() -> ModelOptions {
        ModelOptions { backend: Backend::Cpu, ..ModelOptions::default() }
    }

    pub(crate) fn to_raw(self) -> sys::lw_model_options {
        sys::lw_model_options {
            backend: self.backend.raw(),
            cpu_threads: self.cpu_threads,
            context_length: self.context_length,
            vram_budget_bytes: self.vram_budget_bytes,
            upload_chunk_bytes: self.upload_chunk_bytes,
            max_inferences: self.max_inferences,
        }
    }
}

/// `lw_model_info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// Token ids are in [0, vocab_size).
    pub vocab_size: i64,
    /// KV cache positions of this load.
    pub context_length: i64,
    pub layers: i64,
    pub embedding_width: i64,
    pub backend: Backend,
    /// End-of-sequence id; None when the vocabulary has none.
    pub eos_token: Option<i32>,
    pub architecture: String,
    pub name: String,
}

/// `lw_residency_report`: where the driver says the model's allocations live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidencyReport {
    pub device_bytes: i64,
    pub allocations: i64,
    pub non_device: i64,
    /// Every weight and KV buffer is plain device memory.
    pub ok: bool,
    /// The first allocation that is not device memory ("" when ok).
    pub first_violation: String,
}

/// Owns a `cuda_model`; dropping it frees the model (`cuda_model_free`). It borrows its context,
/// and its inference borrows it: neither can outlive its parent, so no handle is ever used
/// after a free, and each is freed exactly once.
#[derive(Debug)]
pub struct Model<'context> {
    handle: *mut sys::cuda_model,
    _context: PhantomData<&'context Context>,
}

// SAFETY: calls on one model are serialised by the model's own mutex, from any thread
// (llama_worker.h, "Thread safety"); two threads starting inferences on one model get one
// inference and one ModelBusy.
unsafe impl Send for Model<'_> {}
unsafe impl Sync for Model<'_> {}

impl<'context> Model<'context> {
    pub(crate) fn from_raw(handle: *mut sys::cuda_model, context: PhantomData<&'context Context>) -> Model<'context> {
        Model { handle, _context: context }
    }

    /// `cuda_model_get_info`.
    pub fn info(&self) -> Result<ModelInfo, Status> {
        // SAFETY: lw_model_info is plain data; all-zero is a valid value.
        let mut raw: sys::lw_model_info = unsafe { std::mem::zeroed() };
        // SAFETY: live handle, valid out-pointer.
        check(unsafe { sys::cuda_model_get_info(self.handle, &mut raw) })?;
        Ok(ModelInfo {
            vocab_size: raw.vocab_size,
            context_length: raw.context_length,
            layers: raw.layers,
            embedding_width: raw.embedding_width,
            backend: Backend::from_raw(raw.backend),
            eos_token: if raw.eos_token < 0 { None } else { Some(raw.eos_token) },
            architecture: owned_array(&raw.architecture),
            name: owned_array(&raw.name),
        })
    }

    /// `cuda_check_vram_residency`: `Unsupported` on the CPU backend.
    pub fn check_vram_residency(&self) -> Result<ResidencyReport, Status> {
        // SAFETY: plain data; all-zero is valid.
        let mut raw: sys::lw_residency_report = unsafe { std::mem::zeroed() };
        // SAFETY: live handle, valid out-pointer.
        check(unsafe { sys::cuda_check_vram_residency(self.handle, &mut raw) })?;
        Ok(ResidencyReport {
            device_bytes: raw.device_bytes,
            allocations: raw.allocations,
            non_device: raw.non_device,
            ok: raw.ok != 0,
            first_violation: owned_array(&raw.first_violation),
        })
    }

    /// Starts a generation from a prompt (`cuda_inference_start`). A model has one KV cache:
    /// while another inference of it lives this answers `ModelBusy`.
    pub fn start(&self, prompt: &str, params: &SamplingParams) -> Result<Inference<'_>, Status> {
        self.start_bytes(prompt.as_bytes(), params)
    }

    /// The same from bytes that need not be UTF-8 (the library answers `InvalidUtf8` with the
    /// offending offset).
    pub fn start_bytes(&self, prompt: &[u8], params: &SamplingParams) -> Result<Inference<'_>, Status> {
        let c_prompt = CString::new(prompt)
            .map_err(|_| Status::new(StatusCode::InvalidArgument, "the prompt contains a NUL byte"))?;
        let raw_params = params.to_raw();
        let mut inference = ptr::null_mut();
        // SAFETY: live handle; prompt, params and out-pointer outlive the call.
        check(unsafe { sys::cuda_inference_start(self.handle, c_prompt.as_ptr(), &raw_params, &mut inference) })?;
        Ok(Inference::from_raw(inference, PhantomData))
    }

    /// Starts a generation from token ids (`cuda_inference_start_tokens`: no BOS is added,
    /// `params.chat` must be false).
    pub fn start_tokens(&self, tokens: &[i32], params: &SamplingParams) -> Result<Inference<'_>, Status> {
        let raw_params = params.to_raw();
        let mut inference = ptr::null_mut();
        // SAFETY: live handle; the slice, params and out-pointer outlive the call.
        check(unsafe {
            sys::cuda_inference_start_tokens(self.handle, tokens.as_ptr(), tokens.len(), &raw_params, &mut inference)
        })?;
        Ok(Inference::from_raw(inference, PhantomData))
    }
}

impl Drop for Model<'_> {
    fn drop(&mut self) {
        // SAFETY: issued by cuda_load_model, freed exactly once; its inference borrows it, so
        // none is left.
        unsafe {
            sys::cuda_model_free(self.handle);
        }
    }
}
