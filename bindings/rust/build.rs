//! Finds the installed libllama_worker.so and tells rustc to link it:
//!   1. LLAMA_WORKER_LIB_DIR: the folder holding libllama_worker.so (an install's lib folder,
//!      or a build tree's `lib/`);
//!   2. else `pkg-config --libs llama_worker` (set PKG_CONFIG_PATH to <prefix>/lib/pkgconfig
//!      for an install outside the default paths);
//!   3. else the linker's default search path (an install under /usr/local or /usr).
//! The folder found is also recorded as a run-time search path (rpath) of the test and
//! example binaries, so `cargo test` runs without LD_LIBRARY_PATH.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LLAMA_WORKER_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if let Ok(dir) = env::var("LLAMA_WORKER_LIB_DIR") {
        link_from(&dir);
        return;
    }
    if let Some(dirs) = pkg_config_lib_dirs() {
        for dir in &dirs {
            link_from(dir);
        }
        if !dirs.is_empty() {
            return;
        }
    }
    println!("cargo:rustc-link-lib=dylib=llama_worker");
}

fn link_from(dir: &str) {
    println!("cargo:rustc-link-search=native={dir}");
    println!("cargo:rustc-link-lib=dylib=llama_worker");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    println!("cargo:lib_dir={dir}");
}

/// The -L folders of `pkg-config --libs llama_worker`; None when pkg-config or the package is missing.
fn pkg_config_lib_dirs() -> Option<Vec<String>> {
    let output = Command::new("pkg-config").args(["--libs", "llama_worker"]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let flags = String::from_utf8(output.stdout).ok()?;
    Some(flags.split_whitespace().filter_map(|flag| flag.strip_prefix("-L")).map(String::from).collect())
}
