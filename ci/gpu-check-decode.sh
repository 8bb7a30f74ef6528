#!/usr/bin/env bash
# One device call for the decode/prefill kernel work (issue 16), everything a change there needs:
#   1. the op conformance suite (every kernel vs its CPU twin, the tensor-core attention and the
#      decode norm tail included), with the tensor-core attention's NMSE lines;
#   2. the end-to-end GPU tests (CUDA backend vs CPU, exact-shape models, reproducibility);
#   3. the side-by-side bench with llama.cpp (ci/gpu-bench.sh), the new paths switched on, and our
#      bench on the same files with them off ("before") — an A/B in the same run.
# The llama.cpp peer is built in the background from .peer-src (bench/README.md) while 1 and 2 run.
# Usage, from the repository root on the GPU machine, with .gpu-stage and .peer-src carried:
#   ci/gpu-check-decode.sh [stage-dir]        (default .gpu-build; unpacked from .gpu-stage if absent)
# Environment: TOTAL (seconds for the whole call, default 585), MODELS (default "qwen phi3"),
# QWEN_DEPTHS (default 2048), REPS (default 3), NEW_ENV / OLD_ENV (the settings of each side).
# Logs under $OUT; a short table last.
set -u -o pipefail
stage=${1:-.gpu-build}
out=${OUT:-$PWD/gpu-check-out}
total=${TOTAL:-585}
start=$(date +%s)
mkdir -p "$out"
left() { echo $((total - ($(date +%s) - start))); }
say() { echo "[check $(($(date +%s) - start))s] $*"; }

[ -x "$stage/bin/llama-worker" ] || tar -xJf .gpu-stage/build.tar.xz
export LD_LIBRARY_PATH="$PWD/$stage/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
(PEER_JOBS=${PEER_JOBS:-12} nice bash .peer-src/build-on-gpu.sh > "$out/peer-build.log" 2>&1
 echo "peer build exit $?" >> "$out/peer-build.log") &
peer_build=$!

new_env=${NEW_ENV:-LLAMA_WORKER_TENSOR_CORE_ATTENTION=1 LLAMA_WORKER_DECODE_FUSION=49}
old_env=${OLD_ENV:-LLAMA_WORKER_TENSOR_CORE_ATTENTION=0 LLAMA_WORKER_DECODE_FUSION=17}

say "op conformance"
timeout 180 "$stage/bin/gpu_op_conformance_tests" > "$out/op-conformance.log" 2>&1
conformance=$?
grep -E "NMSE|FAILED|Failure" "$out/op-conformance.log" | head -30
grep -E "PASSED|tests ran" "$out/op-conformance.log" | tail -2

say "end-to-end GPU tests (the new paths on)"
(export $new_env && CTEST_EXTRA_ARGS="-R gpu_cuda_backend|gpu_exact_shape|gpu_gate4_repro|gpu_gate3_golden|gpu_cli.truncated" \
  timeout 240 ci/gpu-suite.sh "$stage" > "$out/suite.log" 2>&1)
suite=$?
grep -E '^\| ' "$out/suite.log" | tail -8

say "waiting for the peer build"
while kill -0 "$peer_build" 2> /dev/null && (($(left) > 240)); do sleep 5; done
tail -n 2 "$out/peer-build.log"

say "side by side with llama.cpp (new paths on)"
(export $new_env && OUT="$out/bench" TOTAL_LIMIT=$(($(left) - 90)) REPS=${REPS:-3} MODELS=${MODELS:-qwen phi3} \
  QWEN_DEPTHS=${QWEN_DEPTHS:-2048} HISTORY=bench/history/records.jsonl ci/gpu-bench.sh "$stage" > "$out/bench.log" 2>&1)
grep -E '^\|' "$out/bench.log"

say "before (the new paths off), same files"
for file in /tmp/llama-worker-bench-models/*.gguf; do
  [ -s "$file" ] && (($(left) > 25)) || continue
  depth=$(case "$file" in *qwen*) echo "0,${QWEN_DEPTHS:-2048}" ;; *phi3*) echo 0,3000 ;; *) echo 0 ;; esac)
  (export $old_env && timeout $(($(left) - 10)) "$stage/bin/llama-worker" bench -m "$file" -p 512 -n 128 -d "$depth" \
    -r "${REPS:-3}" --backend cuda 2>&1 | grep -E '^\|' | tail -n +3 | sed "s|^|$(basename "$file") before: |")
done
echo
echo "| check | result |"
echo "|---|---|"
echo "| op conformance | exit $conformance |"
echo "| end-to-end GPU tests | exit $suite |"
echo "| total | $(($(date +%s) - start)) s |"
