#!/usr/bin/env bash
# Makes a slim copy of a build folder for the GPU machine (whose calls carry at most 64 MiB):
# binaries (debug info stripped), CTest files and the CMake cache; no objects or archives.
# ci/gpu-suite.sh maps the configured build path onto the copy. The copy is also packed as
# .gpu-stage/build.tar.xz (binaries share their kernels; xz -9 keeps one copy: six compress about 18x), which is what travels. Usage:
#   ci/stage-gpu-build.sh [build-dir] [stage-dir]     (defaults build/release, .gpu-build)
# then on the GPU machine, with .gpu-stage carried:
#   tar -xJf .gpu-stage/build.tar.xz && ci/gpu-suite.sh .gpu-build
# BINARIES="llama-worker gpu_op_conformance_tests ..." stages only those programs (a slimmer call).
set -euo pipefail
build=${1:-build/release}
stage=${2:-.gpu-build}
rm -rf "$stage"
mkdir -p "$stage"
# Every folder (tests write into some, e.g. generated models), then the CTest files and cache.
(cd "$build" && find . -name CMakeFiles -prune -o -type d -print) | while read -r dir; do mkdir -p "$stage/$dir"; done
(cd "$build" && find . \( -name CMakeFiles -prune \) -o \( -name 'CTestTestfile.cmake' -o -name CMakeCache.txt \) -print) |
  while read -r file; do mkdir -p "$stage/$(dirname "$file")" && cp "$build/$file" "$stage/$file"; done
mkdir -p "$stage/bin"
for binary in "$build"/bin/*; do
  [ -f "$binary" ] || continue
  if [ -n "${BINARIES:-}" ] && [[ " $BINARIES " != *" $(basename "$binary") "* ]] && [[ "$binary" != *.so ]]; then continue; fi
  strip --strip-debug -o "$stage/bin/$(basename "$binary")" "$binary" 2>/dev/null || cp "$binary" "$stage/bin/"
done
# Shared libraries the build made (test shims) and the Debian ones the GPU machine lacks
# (Google Benchmark); ci/gpu-suite.sh and ci/gpu-perf.sh put <stage>/lib on LD_LIBRARY_PATH.
mkdir -p "$stage/lib"
for library in "$build"/lib/*.so*; do [ -f "$library" ] && cp "$library" "$stage/lib/"; done
for binary in "$build"/bin/*; do
  ldd "$binary" 2>/dev/null | sed -n 's/.*=> \(.*libbenchmark[^ ]*\) .*/\1/p'
done | sort -u | while read -r library; do cp -L "$library" "$stage/lib/"; done
# The commit the binaries were built from (the GPU machine's tree may differ: ci/gpu-bench.sh
# records this one in bench/history when ENGINE_COMMIT is not given).
{ git rev-parse HEAD 2>/dev/null || echo unknown; git diff --quiet HEAD 2>/dev/null || echo "with local changes"; } > "$stage/COMMIT"
mkdir -p .gpu-stage
# One thread and -9: a 64 MiB window finds the kernels every binary links in again (57 -> 11 MB for six).
tar -cf - "$stage" | xz -T1 -9 > .gpu-stage/build.tar.xz
du -sh "$stage" .gpu-stage/build.tar.xz | awk '{print "staged " $2 ": " $1}'
