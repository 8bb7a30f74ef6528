//! `Status`: a failed call's status code and the library's message for it.
use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_char;

use crate::sys;

/// The C API's status codes (`lw_status`), without `LW_STATUS_OK` (success is `Ok`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusCode {
    NullHandle,
    InvalidHandle,
    WrongOrder,
    InvalidArgument,
    EmptyPrompt,
    InvalidUtf8,
    TokenOutOfRange,
    PromptTooLong,
    FileNotFound,
    IsDirectory,
    IoError,
    MalformedFile,
    UnsupportedArchitecture,
    Unsupported,
    OutOfDeviceMemory,
    OutOfHostMemory,
    NoDevice,
    DeviceError,
    DeviceFailed,
    ModelBusy,
    Cancelled,
    NotBuiltWithCuda,
    NumericError,
    Internal,
    /// A model loaded with max_inferences >= 2 already has that many live inferences.
    InferenceLimit,
    /// The model's shared KV cache has no free blocks for the inference.
    KvCacheFull,
    /// A value this version of the binding does not know (a newer library).
    Unknown(i32),
}

impl StatusCode {
    /// The code of a raw non-OK `lw_status`.
    pub fn from_raw(raw: sys::lw_status) -> StatusCode {
        use StatusCode::*;
        match raw {
            sys::LW_STATUS_NULL_HANDLE => NullHandle,
            sys::LW_STATUS_INVALID_HANDLE => InvalidHandle,
            sys::LW_STATUS_WRONG_ORDER => WrongOrder,
            sys::LW_STATUS_INVALID_ARGUMENT => InvalidArgument,
            sys::LW_STATUS_EMPTY_PROMPT => EmptyPrompt,
            sys::LW_STATUS_INVALID_UTF8 => InvalidUtf8,
            sys::LW_STATUS_TOKEN_OUT_OF_RANGE => TokenOutOfRange,
            sys::LW_STATUS_PROMPT_TOO_LONG => PromptTooLong,
            sys::LW_STATUS_FILE_NOT_FOUND => FileNotFound,
            sys::LW_STATUS_IS_DIRECTORY => IsDirectory,
            sys::LW_STATUS_IO_ERROR => IoError,
            sys::LW_STATUS_MALFORMED_FILE => MalformedFile,
            sys::LW_STATUS_UNSUPPORTED_ARCHITECTURE => UnsupportedArchitecture,
            sys::LW_STATUS_UNSUPPORTED => Unsupported,
            sys::LW_STATUS_OUT_OF_DEVICE_MEMORY => OutOfDeviceMemory,
            sys::LW_STATUS_OUT_OF_HOST_MEMORY => OutOfHostMemory,
            sys::LW_STATUS_NO_DEVICE => NoDevice,
            sys::LW_STATUS_DEVICE_ERROR => DeviceError,
            sys::LW_STATUS_DEVICE_FAILED => DeviceFailed,
            sys::LW_STATUS_MODEL_BUSY => ModelBusy,
            sys::LW_STATUS_CANCELLED => Cancelled,
            sys::LW_STATUS_NOT_BUILT_WITH_CUDA => NotBuiltWithCuda,
            sys::LW_STATUS_NUMERIC_ERROR => NumericError,
            sys::LW_STATUS_INTERNAL => Internal,
            sys::LW_STATUS_INFERENCE_LIMIT => InferenceLimit,
            sys::LW_STATUS_KV_CACHE_FULL => KvCacheFull,
            other => Unknown(other),
        }
    }

    /// The raw `lw_status` value.
    pub fn raw(self) -> sys::lw_status {
        use StatusCode::*;
        match self {
            NullHandle => sys::LW_STATUS_NULL_HANDLE,
            InvalidHandle => sys::LW_STATUS_INVALID_HANDLE,
            WrongOrder => sys::LW_STATUS_WRONG_ORDER,
            InvalidArgument => sys::LW_STATUS_INVALID_ARGUMENT,
            EmptyPrompt => sys::LW_STATUS_EMPTY_PROMPT,
            InvalidUtf8 => sys::LW_STATUS_INVALID_UTF8,
            TokenOutOfRange => sys::LW_STATUS_TOKEN_OUT_OF_RANGE,
            PromptTooLong => sys::LW_STATUS_PROMPT_TOO_LONG,
            FileNotFound => sys::LW_STATUS_FILE_NOT_FOUND,
            IsDirectory => sys::LW_STATUS_IS_DIRECTORY,
            IoError => sys::LW_STATUS_IO_ERROR,
            MalformedFile => sys::LW_STATUS_MALFORMED_FILE,
            UnsupportedArchitecture => sys::LW_STATUS_UNSUPPORTED_ARCHITECTURE,
            Unsupported => sys::LW_STATUS_UNSUPPORTED,
            OutOfDeviceMemory => sys::LW_STATUS_OUT_OF_DEVICE_MEMORY,
            OutOfHostMemory => sys::LW_STATUS_OUT_OF_HOST_MEMORY,
            NoDevice => sys::LW_STATUS_NO_DEVICE,
            DeviceError => sys::LW_STATUS_DEVICE_ERROR,
            DeviceFailed => sys::LW_STATUS_DEVICE_FAILED,
            ModelBusy => sys::LW_STATUS_MODEL_BUSY,
            Cancelled => sys::LW_STATUS_CANCELLED,
            NotBuiltWithCuda => sys::LW_STATUS_NOT_BUILT_WITH_CUDA,
            NumericError => sys::LW_STATUS_NUMERIC_ERROR,
            Internal => sys::LW_STATUS_INTERNAL,
            InferenceLimit => sys::LW_STATUS_INFERENCE_LIMIT,
            KvCacheFull => sys::LW_STATUS_KV_CACHE_FULL,
            Unknown(raw) => raw,
        }
    }

    /// The library's name of the code: "LW_STATUS_INVALID_UTF8".
    pub fn name(self) -> String {
        // SAFETY: cuda_status_name accepts any value and returns a static NUL-terminated string.
        unsafe { owned(sys::cuda_status_name(self.raw())) }
    }

    /// The library's one-line description: "the prompt is not valid UTF-8".
    pub fn description(self) -> String {
        // SAFETY: as for name().
        unsafe { owned(sys::cuda_status_string(self.raw())) }
    }
}

/// A failed call: its code and the message `cuda_last_error()` gave right after it (naming the
/// file, the parameter and its value, the sizes involved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    code: StatusCode,
    message: String,
}

impl Status {
    pub fn new(code: StatusCode, message: impl Into<String>) -> Status {
        Status { code, message: message.into() }
    }

    pub fn code(&self) -> StatusCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Status {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for Status {}

/// Ok for LW_STATUS_OK, else the status with this thread's last error message (read at once:
/// the next failing call on this thread replaces it).
pub(crate) fn check(raw: sys::lw_status) -> Result<(), Status> {
    if raw == sys::LW_STATUS_OK {
        return Ok(());
    }
    // SAFETY: cuda_last_error never returns NULL; the string is valid until the next failing call
    // on this thread, and it is copied before anything else runs.
    let message = unsafe { owned(sys::cuda_last_error()) };
    Err(Status::new(StatusCode::from_raw(raw), message))
}

/// A copy of a NUL-terminated C string (lossy for invalid UTF-8; NULL gives "").
///
/// # Safety
/// `text` is NULL or points to a NUL-terminated string that stays valid during the call.
pub(crate) unsafe fn owned(text: *const c_char) -> String {
    if text.is_null() {
        return String::new();
    }
    CStr::from_ptr(text).to_string_lossy().into_owned()
}

/// A copy of a NUL-terminated fixed-size char array field.
pub(crate) fn owned_array(chars: &[c_char]) -> String {
    let bytes: Vec<u8> = chars.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
