#!/usr/bin/env bash
# installed_consumer_test.sh INSTALL_PREFIX LIBDIR EXAMPLE.c MODEL.gguf WORK_DIR
# Builds the C API example against the installed libllama_worker.so twice, through the CMake
# package and through pkg-config, checks that each binary resolves the installed copy, and runs
# both on the CPU backend. LLAMA_WORKER_PRELOAD: a sanitizer runtime to preload (asan builds).
set -euo pipefail
prefix=$1 libdir=$2 example=$3 model=$4 work=$5
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$model" ] || { echo "SKIPPED: test model '$model' is missing"; exit 77; }
rm -rf "$work" && mkdir -p "$work"

run_example() {  # binary: must load the installed library, then generate on the CPU
  local binary=$1
  local resolved
  resolved=$(LD_LIBRARY_PATH="$libdir" ldd "$binary" | awk '/libllama_worker/ {print $3}')
  [ "$resolved" -ef "$libdir/libllama_worker.so" ] || { echo "error: $binary resolves libllama_worker to '$resolved'"; exit 1; }
  LD_PRELOAD="${LLAMA_WORKER_PRELOAD:-}" LD_LIBRARY_PATH="$libdir" "$binary" "$model" cpu "Write a haiku about a GPU." >"$work/out.txt" 2>"$work/err.txt" || {
    cat "$work/err.txt"; echo "error: $binary failed"; exit 1; }
  grep -q "prompt [0-9]* tokens, generated" "$work/err.txt" || { cat "$work/err.txt"; echo "error: no stats line"; exit 1; }
  echo "$binary: $(tail -1 "$work/err.txt")"
}

# 1. CMake package
cmake -S "$here/consumer" -B "$work/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DEXAMPLE_SOURCE="$example" >/dev/null
cmake --build "$work/cmake" >/dev/null
run_example "$work/cmake/c_api_example"

# 2. pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046 # word splitting of the flags is wanted
cc -std=c11 -Wall -Wextra $(pkg-config --cflags llama_worker) "$example" -o "$work/c_api_example_pkgconfig" $(pkg-config --libs llama_worker)
run_example "$work/c_api_example_pkgconfig"
