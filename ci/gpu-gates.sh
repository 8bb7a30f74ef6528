#!/usr/bin/env bash
# Every gate on the GPU machine in one call, each test once: first the GPU-labelled tests (one at a
# time: they share the device), then the tests of gate1-4 that need no GPU (in parallel). Prints a
# table per gate last (tests, passed, failed, skipped) and keeps the CTest logs under $OUT.
# Equivalent to `ctest --preset gate1` ... `gate4` plus `--preset gpu`, without running the GPU
# tests of several gates twice. Usage, from the repository root, with a staged build
# (ci/stage-gpu-build.sh): tar -xJf .gpu-stage/build.tar.xz && ci/gpu-gates.sh .gpu-build
set -uo pipefail
build=${1:-build/release}
logs=${OUT:-$build/gates-logs}
jobs=${JOBS:-12}
mkdir -p "$logs"
# gpu-suite.sh maps the configure machine's paths onto this checkout and runs the GPU label.
ci/gpu-suite.sh "$build" '^gpu$' > "$logs/gpu.log" 2>&1
gpu_status=$?
export LD_LIBRARY_PATH="$(cd "$build" && pwd)/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ctest --test-dir "$build" -L '^gate[1-4]$' -LE '^gpu$' -j "$jobs" --output-on-failure --timeout 600 > "$logs/cpu.log" 2>&1
cpu_status=$?

echo "| label | tests | passed | failed | skipped |"
echo "|---|---:|---:|---:|---:|"
for label in gate1 gate2 gate3 gate4 gpu; do
  names=$(ctest --test-dir "$build" -N -L "^$label\$" | sed -n 's/^ *Test *#[0-9]*: \(.*\)$/\1/p')
  total=0 passed=0 failed=0 skipped=0
  for name in $names; do
    total=$((total + 1))
    line=$(grep -h -E "Test +#[0-9]+: $name \.+" "$logs/gpu.log" "$logs/cpu.log" | tail -1)
    case "$line" in
      *Passed*) passed=$((passed + 1)) ;;
      *Skipped*|*"Not Run"*) skipped=$((skipped + 1)) ;;
      *) failed=$((failed + 1)); echo "  $label: $name: ${line:-did not run}" >&2 ;;
    esac
  done
  echo "| $label | $total | $passed | $failed | $skipped |"
done
echo "GPU tests exit status $gpu_status, gate CPU tests exit status $cpu_status"
[ "$gpu_status" = 0 ] && [ "$cpu_status" = 0 ]
