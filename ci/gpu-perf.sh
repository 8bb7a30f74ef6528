#!/usr/bin/env bash
# Our own speed on the GPU machine, without the peer (the quick loop while tuning kernels; the
# side-by-side record is ci/gpu-bench.sh): the decode matrix-vector Google Benchmark, then
# `llama-worker bench` on both exact-shape models (generated with mkmodel when absent).
# Usage, from the repository root: ci/gpu-perf.sh [build-dir] (default build/release). Logs under $OUT.
set -uo pipefail
build=${1:-build/release}
logs=${OUT:-$build/perf-logs}
models=${MODEL_DIR:-$build/models}
reps=${REPS:-3}
mkdir -p "$logs" "$models"
export LD_LIBRARY_PATH="$(cd "$build" && pwd)/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cli="$build/bin/llama-worker"
vocab=conformance/data/vocab
declare -A file=([qwen]="$models/qwen2.5-0.5b-Q4_K_M-seed1-tied.gguf" [phi3]="$models/phi-3-mini-Q4_K_M-seed1.gguf")
declare -A source=([qwen]="qwen2.5-0.5b-instruct.vocab.gguf" [phi3]="phi-3-mini-4k-instruct.vocab.gguf")
declare -A extra=([qwen]="--tied" [phi3]="")
declare -A depth=([qwen]=2048 [phi3]=3000)

if [ -x "$build/bin/quant_gemv_bench" ]; then
  timeout 120 "$build/bin/quant_gemv_bench" --benchmark_min_time=0.2s 2>&1 | tee "$logs/quant_gemv_bench.txt" |
    grep -E 'copy rate|^[a-z].*(us|ms) ' | sed 's/  */ /g'
fi
for model in ${MODELS:-qwen phi3}; do
  if [ ! -s "${file[$model]}" ]; then
    timeout 300 "$cli" mkmodel --vocab "$vocab/${source[$model]}" --quant Q4_K_M --seed 1 ${extra[$model]} \
      -o "${file[$model]}" > "$logs/mkmodel-$model.txt" 2>&1 || echo "mkmodel $model failed"
  fi
  cat "${file[$model]}" > /dev/null
  timeout 300 "$cli" bench -m "${file[$model]}" -p 512 -n 128 -d "0,${depth[$model]}" -r "$reps" --backend cuda \
    > "$logs/bench-$model.txt" 2> "$logs/bench-$model.err" || echo "bench $model failed (see bench-$model.err)"
  echo "== $model"
  grep -E '^\|' "$logs/bench-$model.txt" | tail -n +3
  grep -E 'load|memory' "$logs/bench-$model.txt"
done
