#!/usr/bin/env bash
# Our own speed on the GPU machine, without the peer (the quick loop while tuning kernels; the
# side-by-side record is ci/gpu-bench.sh): the decode matrix-vector Google Benchmark, then
# `llama-worker bench` on both exact-shape models (generated with mkmodel when absent).
# Usage, from the repository root: ci/gpu-perf.sh [build-dir] (default build/release). Logs under $OUT.
# KERNEL_BENCH=0 leaves the matrix-vector benchmark out. PROFILE=1 adds an ncu pass over a few decode steps per model: device time per kernel, summed;
# PROFILE_PREFILL=1 the same over one 512-token prefill.
# VARIANTS="A=1 A=0,B=2" runs the bench once per variant with those variables set (A/B of a
# setting in the same call; commas separate several variables of one variant); the profiles use
# the first variant.
set -uo pipefail
build=${1:-build/release}
logs=${OUT:-$build/perf-logs}
models=${MODEL_DIR:-$build/models}
reps=${REPS:-3}
mkdir -p "$logs" "$models"
export LD_LIBRARY_PATH="$(cd "$build" && pwd)/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cli="$build/bin/llama-worker"
vocab=conformance/data/vocab
# llama7b: the Llama-2-7B shape of issue 16 (4.1 GB; MODELS="llama7b" to include it).
declare -A file=([qwen]="$models/qwen2.5-0.5b-Q4_K_M-seed1-tied.gguf" [phi3]="$models/phi-3-mini-Q4_K_M-seed1.gguf"
  [llama7b]="$models/llama7b-Q4_K_M-seed1.gguf")
declare -A source=([qwen]="qwen2.5-0.5b-instruct.vocab.gguf" [phi3]="phi-3-mini-4k-instruct.vocab.gguf"
  [llama7b]="llama-spm.vocab.gguf")
declare -A extra=([qwen]="--tied" [phi3]="" [llama7b]="--layers 32 --embd 4096 --ff 11008 --heads 32 --kv-heads 32")
declare -A depth=([qwen]=2048 [phi3]=3000 [llama7b]=2048)

if [ -x "$build/bin/quant_gemv_bench" ] && [ "${KERNEL_BENCH:-1}" = 1 ]; then
  timeout 120 "$build/bin/quant_gemv_bench" --benchmark_min_time=0.2 2>&1 | tee "$logs/quant_gemv_bench.txt" |
    grep -E 'copy rate|^[a-z].*(us|ms) ' | sed 's/  */ /g'
fi
variants=${VARIANTS:-default}
set_variant() {  # $1: "A=1,B=2" or "default"
  [ "$1" = default ] && return
  local assignment
  for assignment in ${1//,/ }; do export "$assignment"; done
}
for model in ${MODELS:-qwen phi3}; do
  if [ ! -s "${file[$model]}" ]; then
    timeout 300 "$cli" mkmodel --vocab "$vocab/${source[$model]}" --quant Q4_K_M --seed 1 ${extra[$model]} \
      -o "${file[$model]}" > "$logs/mkmodel-$model.txt" 2>&1 || echo "mkmodel $model failed"
  fi
  cat "${file[$model]}" > /dev/null
  for variant in $variants; do
    tag="$model-${variant//[=,]/_}"
    (set_variant "$variant" && timeout 300 "$cli" bench -m "${file[$model]}" -p 512 -n 128 -d "0,${depth[$model]}" \
      -r "$reps" --backend cuda > "$logs/bench-$tag.txt" 2> "$logs/bench-$tag.err") ||
      echo "bench $tag failed (see bench-$tag.err)"
    echo "== $model ($variant)"
    grep -E '^\|' "$logs/bench-$tag.txt" | tail -n +3
    grep -E 'load|memory' "$logs/bench-$tag.txt"
  done
done
set_variant "${variants%% *}"

profile() {  # $1 model, $2 what (decode or prefill), $3 steps, bench arguments after
  local model=$1 what=$2 steps=$3
  shift 3
  timeout 240 ncu --metrics gpu__time_duration.sum --cache-control none --clock-control none --csv --print-units base \
    "$cli" bench -m "${file[$model]}" "$@" -r 1 --no-warmup --backend cuda > "$logs/ncu-$what-$model.csv" 2> "$logs/ncu-$what-$model.err"
  echo "== $model: device time per $what step by kernel (ncu, total over the run divided by $steps)"
  python3 - "$logs/ncu-$what-$model.csv" "$steps" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
head = rows[0]; k = head.index("Kernel Name"); v = head.index("Metric Value")
total = collections.Counter(); count = collections.Counter()
for r in rows[1:]:
    name = r[k].split("(")[0].replace("void ", "")[-70:]
    total[name] += float(r[v].replace(",", "")); count[name] += 1
steps = int(sys.argv[2])
s = sum(total.values())
for name, ns in total.most_common(14):
    print(f"{ns/steps/1000:9.1f} us/step {count[name]//steps:5d} launches/step  {name}")
print(f"{s/steps/1000:9.1f} us/step total kernel time")
PY
}
if command -v ncu > /dev/null; then
  for model in ${MODELS:-qwen phi3}; do
    [ "${PROFILE:-0}" = 1 ] && profile "$model" decode 3 -p 0 -n 3
    [ "${PROFILE_PREFILL:-0}" = 1 ] && profile "$model" prefill 1 -p 512 -n 0
  done
fi
