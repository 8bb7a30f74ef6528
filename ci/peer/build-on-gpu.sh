#!/usr/bin/env bash
# Builds the llama.cpp peer into .peer/ on the GPU machine from the tarball ci/peer/make-source.sh
# put in .peer-src/ (this script is copied there too; callers run .peer-src/build-on-gpu.sh).
# Flags as bench/README.md "The peer": CUDA for sm_90 SASS only, no OpenMP/NCCL/curl, rpath
# $ORIGIN. Returns at once when .peer/ is complete; the build folder /tmp/peer-build survives
# while the machine stays warm, so a second call only relinks. PEER_JOBS (16) compile jobs.
set -euo pipefail
root=$PWD
here=$(cd "$(dirname "$0")" && pwd)
tools="llama-bench llama-batched-bench llama-completion llama-quantize"
complete() { for tool in $tools; do [ -x "$root/.peer/$tool" ] || return 1; done; }
if complete; then echo "peer: .peer complete"; exit 0; fi
tarball=$(ls "$here"/llama.cpp-*.tar.xz | head -1)
work=/tmp/peer-build
mkdir -p "$work"
if [ ! -f "$work/src/CMakeLists.txt" ]; then
  rm -rf "$work/src" && mkdir -p "$work/src"
  tar -xJf "$tarball" -C "$work/src" --strip-components=1
fi
start=$(date +%s)
cmake -S "$work/src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90-real -DGGML_NATIVE=OFF \
  -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_SSE42=ON \
  -DGGML_OPENMP=OFF -DGGML_CUDA_NCCL=OFF -DGGML_CUDA_FA_ALL_QUANTS=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_APP=OFF \
  -DCMAKE_BUILD_RPATH='$ORIGIN' -DCMAKE_INSTALL_RPATH='$ORIGIN' -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON > "$work/configure.log"
cmake --build "$work/build" -j "${PEER_JOBS:-16}" --target $tools > "$work/build.log" || { tail -30 "$work/build.log"; exit 1; }
mkdir -p "$root/.peer"
for tool in $tools; do strip -o "$root/.peer/$tool" "$work/build/bin/$tool"; done
for library in "$work"/build/bin/lib*.so*; do cp -P "$library" "$root/.peer/"; done
cp -L /usr/local/cuda/lib64/libcudart.so.13 "$root/.peer/" 2>/dev/null || true
cp "$work/src/VERSION" "$root/.peer/VERSION"
echo "peer: built in $(($(date +%s) - start)) s"
