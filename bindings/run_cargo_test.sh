#!/usr/bin/env bash
# run_cargo_test.sh LIBDIR TARGET_DIR MODEL.gguf
# CTest's `bindings_rust`: `cargo test` of bindings/rust against the libllama_worker.so installed
# in LIBDIR, then the haiku example streaming from MODEL. Debian's cargo and rustc (ci/setup.sh)
# build it offline; LLAMA_WORKER_CARGO / LLAMA_WORKER_RUSTC name others. Exit 77 (skipped) when
# there is no cargo. LLAMA_WORKER_PRELOAD: a sanitizer runtime the test binaries preload (asan builds;
# cargo and rustc themselves run without it).
set -euo pipefail
libdir=$1 target=$2 model=$3
cargo=${LLAMA_WORKER_CARGO:-/usr/bin/cargo}
rustc=${LLAMA_WORKER_RUSTC:-$(dirname "$cargo")/rustc}
if [ ! -x "$cargo" ] || [ ! -x "$rustc" ]; then
  echo "SKIPPED: no cargo/rustc at $cargo, $rustc (ci/setup.sh installs Debian's)"
  exit 77
fi
[ -f "$model" ] || { echo "SKIPPED: test model '$model' is missing"; exit 77; }
# The pair named above, not whatever rustup put on PATH; a cargo home of our own (no user config).
export RUSTC=$rustc RUSTDOC=$(dirname "$rustc")/rustdoc
export CARGO_HOME=$target/cargo-home CARGO_TARGET_DIR=$target
export LLAMA_WORKER_LIB_DIR=$libdir LLAMA_WORKER_TEST_MODEL=$model
if [ -n "${LLAMA_WORKER_PRELOAD:-}" ]; then
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="env LD_PRELOAD=$LLAMA_WORKER_PRELOAD"
fi
cd "$(dirname "$0")/rust"
"$cargo" --version
"$cargo" test --offline --locked --no-fail-fast -- --test-threads=2
haiku=$("$cargo" run --offline --locked --quiet --example haiku -- "$model" cpu 2>&1)
echo "$haiku"
grep -q "generated [0-9]" <<<"$haiku" || { echo "error: the haiku example printed no stats line"; exit 1; }
