#!/usr/bin/env bash
# Runs NVIDIA compute-sanitizer (memcheck, racecheck, initcheck) over the GPU suite's test
# binaries on a CUDA machine, from a build made elsewhere (as ci/gpu-suite.sh does). Usage, from
# the repository root:
#
#   ci/gpu-sanitize.sh [build-dir] [tools] [ctest label regex]
#       defaults: build/release, "memcheck racecheck initcheck", ^gpu$
#
# Environment:
#   OUT                   logs go to $OUT/sanitize (default <build>/sanitize-logs): one log per test and tool
#   COMPUTE_SANITIZER     the compute-sanitizer executable; else PATH, /usr/local/cuda/bin, or the
#                         PyPI wheel nvidia-cuda-sanitizer-api (ci/fetch-compute-sanitizer.sh puts it in
#                         .gpu-stage/; it is unpacked here with `cmake -E tar`)
#   SANITIZE_EXCLUDE      test names not run (regex); default: the deliberately faulting test and the
#                         exact-shape models (too slow under instrumentation)
#   SANITIZE_ONLY         only these test names (regex)
#   SANITIZE_TIMEOUT      seconds per test and tool (default 600)
#   SANITIZE_SKIP_SETUPS  1: do not rerun the fixture setups (another invocation made their files;
#                         lets two invocations run side by side without rewriting a model in use)
#   SANITIZE_GTEST_FILTER GoogleTest filter for every run; default: leave out the tests that assert the
#                         device's free-memory level (names with Leak, FreeMemory, WhereItStarted, WhereTheyStarted,
#                         EachDeviceAllocation): the sanitizer's own allocations move that level (seen
#                         on the H100: they fail under initcheck and racecheck with 0 errors reported),
#                         and memcheck's --leak-check full covers what they check
#   MEMCHECK_ARGS, RACECHECK_ARGS, INITCHECK_ARGS   extra options per tool
#                         (racecheck with a --kernel-name filter crashes compute-sanitizer 2025.3.1 when
#                         cuBLAS runs an uninstrumented cluster GEMM: ci/probes/cublas_racecheck_probe.cu;
#                         filter racecheck only with LLAMA_WORKER_TENSOR_CORE_PREFILL=0 exported)
#
# What runs: every test of the label whose command is an executable (GoogleTest suites, the C
# test program). CLI command tests (cmake -P, shell scripts) are listed as "not sanitized".
# Fixture setup tests (e.g. capi_test_models) run plainly first. A run is "clean" when the
# sanitizer reports 0 errors and the test itself passes (exit 0, or 77 = skipped is "skipped").
# Prints a summary table last; exits 1 when any run is not clean.
set -uo pipefail

root=$(pwd)
build=${1:-build/release}
tools=${2:-memcheck racecheck initcheck}
label=${3:-^gpu\$}
logs=${OUT:-$build/sanitize-logs}
logs=$logs/sanitize
mkdir -p "$logs"
exclude=${SANITIZE_EXCLUDE:-^(gpu_capi_device_fault_tests|gpu_exact_shape_tests)$}
only=${SANITIZE_ONLY:-.}
per_run=${SANITIZE_TIMEOUT:-600}
export GTEST_FILTER=${SANITIZE_GTEST_FILTER:--*Leak*:*FreeMemory*:*WhereItStarted*:*WhereTheyStarted*:*EachDeviceAllocation*}

# Path mapping for a staged build (ci/map-build-paths.sh, as ci/gpu-suite.sh does).
source "$root/ci/map-build-paths.sh" && map_build_paths

# Find compute-sanitizer.
sanitizer=${COMPUTE_SANITIZER:-}
if [ -z "$sanitizer" ]; then
  if command -v compute-sanitizer >/dev/null; then
    sanitizer=$(command -v compute-sanitizer)
  elif [ -x /usr/local/cuda/bin/compute-sanitizer ]; then
    sanitizer=/usr/local/cuda/bin/compute-sanitizer
  else
    wheel=$(ls .gpu-stage/nvidia_cuda_sanitizer_api-*.whl 2>/dev/null | tail -1)
    if [ -n "$wheel" ]; then
      mkdir -p .gpu-stage/compute-sanitizer
      (cd .gpu-stage/compute-sanitizer && cmake -E tar xf "$root/$wheel")
      sanitizer=$(find .gpu-stage/compute-sanitizer -name compute-sanitizer -type f | head -1)
      [ -n "$sanitizer" ] && chmod +x "$sanitizer" && sanitizer="$root/$sanitizer"
    fi
  fi
fi
if [ -z "$sanitizer" ] || [ ! -x "$sanitizer" ]; then
  echo "error: compute-sanitizer not found: set COMPUTE_SANITIZER, install the CUDA toolkit's sanitizer, or run" \
       "ci/fetch-compute-sanitizer.sh on a machine with PyPI and carry .gpu-stage/" >&2
  exit 1
fi

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  "$sanitizer" --version 2>&1 | tail -1
} | tee "$logs/machine.txt"

ctest --test-dir "$build" -L "$label" --show-only=json-v1 > "$logs/tests.json" || exit 1
cmake -DJSON="$logs/tests.json" -P "$root/ci/gpu-sanitize-list.cmake" > "$logs/tests.txt" || exit 1

# Fixture setups first, plainly.
setups=$(awk -F'|' '$1 == "setup" {printf "%s%s", sep, $2; sep = "|"}' "$logs/tests.txt")
if [ -n "$setups" ] && [ "${SANITIZE_SKIP_SETUPS:-0}" != 1 ]; then
  echo "fixture setups: $setups"
  ctest --test-dir "$build" -R "^($setups)\$" --output-on-failure > "$logs/setups.log" 2>&1 ||
    { echo "error: a fixture setup failed (see $logs/setups.log)"; tail -20 "$logs/setups.log"; }
fi

# Errors a sanitizer log reports: memcheck and initcheck end with "ERROR SUMMARY: N errors",
# racecheck with "RACECHECK SUMMARY: H hazards displayed (N errors, W warnings)"; "?" when neither.
sanitizer_errors() {
  local errors
  errors=$(sed -n -e 's/^========= ERROR SUMMARY: \([0-9]*\) error.*/\1/p' \
                  -e 's/^========= RACECHECK SUMMARY: .*(\([0-9]*\) error.*/\1/p' "$1" | tail -1)
  echo "${errors:-?}"
}

summary=()
failures=0
missing=0
while IFS='|' read -r -a fields; do
  kind=${fields[0]}; name=${fields[1]:-}; workdir=${fields[2]:-}; environment=${fields[3]:-}
  argv=("${fields[@]:4}")
  [ "$kind" = setup ] && continue
  if ! [[ "$name" =~ $only ]] || [[ "$name" =~ $exclude ]]; then
    summary+=("| $name | - | excluded | - | - |"); continue
  fi
  if [ "$kind" = missing ]; then
    summary+=("| $name | - | not run: executable not in this build | - | - |"); missing=$((missing + 1)); continue
  fi
  if [ "$kind" = command ]; then
    summary+=("| $name | - | not sanitized (command test) | - | - |"); continue
  fi
  for tool in $tools; do
    case "$tool" in
      memcheck) extra="--leak-check full ${MEMCHECK_ARGS:-}" ;;
      racecheck) extra="--racecheck-report analysis ${RACECHECK_ARGS:-}" ;;
      initcheck) extra="${INITCHECK_ARGS:-}" ;;
      *) extra="" ;;
    esac
    log="$logs/$name.$tool.log"
    start=$(date +%s)
    (
      cd "${workdir:-$build}" || exit 1
      IFS=';' read -r -a env_list <<< "$environment"
      # shellcheck disable=SC2086
      exec env "${env_list[@]}" timeout "$per_run" "$sanitizer" --tool "$tool" --error-exitcode 97 \
        --print-limit 100 $extra "${argv[@]}"
    ) > "$log" 2>&1
    status=$?
    seconds=$(( $(date +%s) - start ))
    errors=$(sanitizer_errors "$log")
    if [ "$status" -eq 0 ] && [ "$errors" = 0 ]; then
      result=clean
    elif [ "$status" -eq 77 ]; then
      result=skipped
    elif [ "$status" -eq 124 ]; then
      result="timeout (${per_run} s)"; failures=$((failures + 1))
    elif [ "$status" -eq 97 ] || { [ "$errors" != 0 ] && [ "$errors" != "?" ]; }; then
      result="SANITIZER ERRORS"; failures=$((failures + 1))
    else
      result="test failed (exit $status)"; failures=$((failures + 1))
    fi
    echo "$name $tool: $result, $errors errors, ${seconds} s ($log)"
    summary+=("| $name | $tool | $result | $errors | $seconds |")
  done
done < "$logs/tests.txt"

# The CLI itself: a short generation on the CUDA backend (prefill, graph-captured decode, sampling)
# with the C API tests' tiny model and, when generated, the synthetic quantized models.
cli="$build/bin/llama-worker"
for model in "$build/engine/capi/capi_test_models/model.gguf" "$build/golden-models/synthetic-qwen2-q4_k_m.gguf" \
             "$build/golden-models/synthetic-phi3-q8_0.gguf"; do
  [ -x "$cli" ] && [ -f "$model" ] || continue
  [[ "cli.generate" =~ $only ]] || continue
  name="cli.generate.$(basename "$model" .gguf)"
  for tool in $tools; do
    log="$logs/$name.$tool.log"
    start=$(date +%s)
    timeout "$per_run" "$sanitizer" --tool "$tool" --error-exitcode 97 --print-limit 100 \
      "$cli" generate --backend cuda -m "$model" -p "Once upon a time" -n 16 --temp 0.7 --seed 1 > "$log" 2>&1
    status=$?
    seconds=$(( $(date +%s) - start ))
    errors=$(sanitizer_errors "$log")
    if [ "$status" -eq 0 ] && [ "$errors" = 0 ]; then result=clean
    elif [ "$status" -eq 124 ]; then result="timeout (${per_run} s)"; failures=$((failures + 1))
    elif [ "$status" -eq 97 ]; then result="SANITIZER ERRORS"; failures=$((failures + 1))
    else result="failed (exit $status)"; failures=$((failures + 1)); fi
    echo "$name $tool: $result, $errors errors, ${seconds} s ($log)"
    summary+=("| $name | $tool | $result | $errors | $seconds |")
  done
done

echo
echo "| test | tool | result | sanitizer errors | seconds |"
echo "|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
echo "logs: $logs; runs not clean: $failures; tests not run (executable not in this build): $missing"
[ "$failures" -eq 0 ]
