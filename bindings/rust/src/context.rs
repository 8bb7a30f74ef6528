//! `Context`: one CUDA device, or the host alone for the CPU backend.
use std::ffi::CString;
use std::marker::PhantomData;
use std::path::Path;
use std::ptr;

use crate::model::{Model, ModelOptions};
use crate::status::{check, Status, StatusCode};
use crate::sys;

/// Owns a `cuda_context`; dropping it frees the context (`cuda_free`). Its models borrow it, so
/// it cannot be dropped while a model lives.
#[derive(Debug)]
pub struct Context {
    handle: *mut sys::cuda_context,
}

// SAFETY: every C API function may be called from any thread; the context's registry is guarded
// by a mutex (llama_worker.h, "Thread safety").
unsafe impl Send for Context {}
unsafe impl Sync for Context {}

impl Context {
    /// A host-only context (`LW_DEVICE_CPU`) for models on the CPU backend.
    pub fn cpu() -> Result<Context, Status> {
        Context::init(sys::LW_DEVICE_CPU)
    }

    /// The context of CUDA device `device` (0-based): `NoDevice` when out of range,
    /// `NotBuiltWithCuda` when the library was built without CUDA.
    pub fn cuda(device: i32) -> Result<Context, Status> {
        if device < 0 {
            return Err(Status::new(StatusCode::InvalidArgument, format!("device index {device} is negative")));
        }
        Context::init(device)
    }

    fn init(device: i32) -> Result<Context, Status> {
        let mut handle = ptr::null_mut();
        // SAFETY: handle is a valid out-pointer.
        check(unsafe { sys::cuda_init(device, &mut handle) })?;
        Ok(Context { handle })
    }

    /// Loads a GGUF model into this context (`cuda_load_model`).
    pub fn load_model(&self, path: impl AsRef<Path>, options: &ModelOptions) -> Result<Model<'_>, Status> {
        let path = path.as_ref();
        let c_path = path_to_cstring(path)?;
        let raw_options = options.to_raw();
        let mut model = ptr::null_mut();
        // SAFETY: the context handle is live (self owns it), the strings and structs outlive the call.
        check(unsafe { sys::cuda_load_model(self.handle, c_path.as_ptr(), &raw_options, &mut model) })?;
        Ok(Model::from_raw(model, PhantomData))
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the handle was issued by cuda_init and is freed exactly once, here. Its models
        // borrow the context, so none is left to free.
        unsafe {
            sys::cuda_free(self.handle);
        }
    }
}

fn path_to_cstring(path: &Path) -> Result<CString, Status> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Status::new(StatusCode::InvalidArgument, format!("model path {path:?} contains a NUL byte")))
}

/// `cuda_api_version()`: the LW_API_VERSION the library was built with.
pub fn api_version() -> i32 {
    // SAFETY: no arguments, no state.
    unsafe { sys::cuda_api_version() }
}
