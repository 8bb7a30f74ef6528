#!/usr/bin/env bash
# Runs the GPU-labelled suite on a CUDA machine from a build made elsewhere (the development
# machine compiles with nvcc; the GPU machine only runs). Usage, from the repository root:
#
#   ci/gpu-suite.sh [build-dir] [ctest label regex]   (defaults build/release and ^gpu$; logs under $OUT)
#
# From the development machine: ci/stage-gpu-build.sh, then run `ci/gpu-suite.sh .gpu-build` there
# with .gpu-build carried.
#
# CTest files hold the absolute paths of the machine that configured the build; when this
# checkout lives elsewhere, a symlink from the configured source path to here makes them valid.
# Prints a short summary table last.
set -uo pipefail

root=$(pwd)
build=${1:-build/release}
logs=${OUT:-$build/gpu-logs}
mkdir -p "$logs"
export LD_LIBRARY_PATH="$(cd "$build" && pwd)/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

source "$root/ci/map-build-paths.sh" && map_build_paths

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader 2>&1
} | tee "$logs/machine.txt"

ctest --test-dir "$build" -L "${2:-^gpu\$}" --no-tests=error --output-on-failure --timeout 600 \
  ${CTEST_EXTRA_ARGS:-} 2>&1 | tee "$logs/ctest-gpu.log"
status=${PIPESTATUS[0]}

echo
echo "| test | result | seconds |"
echo "|---|---|---|"
sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) \.*\** *\([A-Za-z][A-Za-z ]*[A-Za-z]\) *\([0-9.]*\) sec$/| \1 | \2 | \3 |/p' \
  "$logs/ctest-gpu.log"
echo "ctest exit status: $status"
exit "$status"
