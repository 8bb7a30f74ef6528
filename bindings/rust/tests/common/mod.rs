//! What the tests share: the test model (CTest's `tiny_model` fixture writes it with
//! `llama-worker mkmodel`; bindings/rust/README.md says how to make one by hand).
#![allow(dead_code)]
use std::path::PathBuf;

use llama_worker::{Context, Model, ModelOptions};

pub fn model_path() -> PathBuf {
    match std::env::var_os("LLAMA_WORKER_TEST_MODEL") {
        Some(path) => PathBuf::from(path),
        None => panic!("LLAMA_WORKER_TEST_MODEL is not set: point it at a small GGUF model (bindings/rust/README.md)"),
    }
}

/// The CPU backend with 2 threads and a 256-position KV cache: cheap on CI's 2 cores.
pub fn cpu_options() -> ModelOptions {
    ModelOptions { cpu_threads: 2, context_length: 256, ..ModelOptions::cpu() }
}

pub fn load(context: &Context) -> Model<'_> {
    context.load_model(model_path(), &cpu_options()).expect("the test model loads")
}

/// A fresh temporary folder for this test (removed first if a previous run left it).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llama-worker-rust-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
