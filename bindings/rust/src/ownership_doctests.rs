//! Misuse that does not compile (each block is a `compile_fail` doc test, run by `cargo test`).
//!
//! A model cannot outlive its context (no use after `cuda_free`):
//! ```compile_fail,E0597
//! use llama_worker::{Context, ModelOptions};
//! let model = {
//!     let context = Context::cpu().unwrap();
//!     context.load_model("model.gguf", &ModelOptions::cpu()).unwrap()
//! };
//! model.info().unwrap();
//! ```
//!
//! A model cannot be dropped (freed) while its inference lives:
//! ```compile_fail,E0505
//! use llama_worker::{Context, ModelOptions, SamplingParams};
//! let context = Context::cpu().unwrap();
//! let model = context.load_model("model.gguf", &ModelOptions::cpu()).unwrap();
//! let inference = model.start("Hello", &SamplingParams::default()).unwrap();
//! drop(model);
//! inference.stats().unwrap();
//! ```
//!
//! A handle cannot be freed twice:
//! ```compile_fail,E0382
//! use llama_worker::Context;
//! let context = Context::cpu().unwrap();
//! drop(context);
//! drop(context);
//! ```
//!
//! An inference is used from one thread at a time (`Send`, not `Sync`):
//! ```compile_fail,E0277
//! fn shared_between_threads<T: Sync>(_: &T) {}
//! use llama_worker::{Context, ModelOptions, SamplingParams};
//! let context = Context::cpu().unwrap();
//! let model = context.load_model("model.gguf", &ModelOptions::cpu()).unwrap();
//! let inference = model.start("Hello", &SamplingParams::default()).unwrap();
//! shared_between_threads(&inference);
//! ```
