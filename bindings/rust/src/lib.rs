//! Safe Rust bindings of llama-worker's C API (`libllama_worker.so`, header `llama_worker.h`):
//! load a Llama-family GGUF model on a CUDA device or the CPU reference backend and stream the
//! tokens it generates.
//!
//! ```no_run
//! use llama_worker::{Context, ModelOptions, SamplingParams};
//! # fn main() -> Result<(), llama_worker::Status> {
//! let context = Context::cpu()?;
//! let model = context.load_model("model.gguf", &ModelOptions::cpu())?;
//! let params = SamplingParams { chat: true, ..SamplingParams::greedy(48) };
//! for piece in model.start("Write a haiku about a GPU.", &params)? {
//!     print!("{}", piece?.text);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Ownership follows the C API's tree: a `Model` borrows its `Context`, an `Inference` borrows its
//! `Model`, and `Drop` frees each handle once, so a double free or a use after free does not
//! compile. Every failure is a `Status` with the library's code and message. `sys` holds the raw
//! declarations.
pub mod sys;

mod context;
mod inference;
mod model;
mod status;

pub mod ownership_doctests;

pub use context::{api_version, Context};
pub use inference::{CancelHandle, Inference, Piece, SamplingParams, Stats, StopReason};
pub use model::{Backend, Model, ModelInfo, ModelOptions, ResidencyReport};
pub use status::{Status, StatusCode};
