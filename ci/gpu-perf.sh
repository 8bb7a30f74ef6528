#!/usr/bin/env bash
# Our own speed on the GPU machine, without the peer (the quick loop while tuning kernels; the
# side-by-side record is ci/gpu-bench.sh): the decode matrix-vector Google Benchmark, then
# `llama-worker bench` on both exact-shape models (generated with mkmodel when absent).
# Usage, from the repository root: ci/gpu-perf.sh [build-dir] (default build/release). Logs under $OUT.
# PROFILE=1 adds an ncu pass over a few decode steps per model: device time per kernel, summed.
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
  timeout 120 "$build/bin/quant_gemv_bench" --benchmark_min_time=0.2 2>&1 | tee "$logs/quant_gemv_bench.txt" |
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

if [ "${PROFILE:-0}" = 1 ] && command -v ncu > /dev/null; then
  for model in ${MODELS:-qwen phi3}; do
    timeout 240 ncu --metrics gpu__time_duration.sum --cache-control none --clock-control none --csv --print-units base \
      "$cli" bench -m "${file[$model]}" -p 0 -n 3 -r 1 --no-warmup --backend cuda > "$logs/ncu-$model.csv" 2> "$logs/ncu-$model.err"
    echo "== $model: device time per decode step by kernel (ncu, 3 steps + first prefill excluded by dividing)"
    python3 - "$logs/ncu-$model.csv" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
head = rows[0]; k = head.index("Kernel Name"); v = head.index("Metric Value")
total = collections.Counter(); count = collections.Counter()
for r in rows[1:]:
    name = r[k].split("(")[0].replace("void ", "")[-70:]
    total[name] += float(r[v].replace(",", "")); count[name] += 1
steps = 3
s = sum(total.values())
for name, ns in total.most_common(14):
    print(f"{ns/steps/1000:9.1f} us/step {count[name]//steps:5d} launches/step  {name}")
print(f"{s/steps/1000:9.1f} us/step total kernel time")
PY
  done
fi
