#!/usr/bin/env bash
# Side-by-side bench on the GPU machine (issue 7): llama-worker vs llama.cpp on the same files, in
# the same run. From the repository root:
#
#   ci/gpu-bench.sh [build-dir]        (default build/release; only <build-dir>/bin/llama-worker is used)
#
# Needs there: <build-dir>/bin/llama-worker built with CUDA, .peer/ (llama-bench, llama-completion and
# their libraries; see bench/README.md), nvidia-smi, python3, cuBLAS in /usr/local/cuda/lib64.
# Steps, per model (Qwen2.5-0.5B and Phi-3-mini shapes, Q4_K_M recipe, seed 1):
#   1. generate the exact-shape file with `llama-worker mkmodel` (cached in $MODEL_DIR while the
#      machine stays up), read it once so it sits in the page cache;
#   2. `llama-worker bench -p 512 -n 128 -d 0,DEPTH -r REPS`              (speed, load)
#   3. `llama-bench -p 512 -n 128 -d 0,DEPTH -r REPS -fa 1 -ngl 99 -o json` (speed)
#   4. `llama-worker bench --ctx 4096` and `llama-completion -c 4096`, nvidia-smi sampled every
#      100 ms during each (peak VRAM at 4,096 context; llama.cpp's own "load time").
# Then one comparison table (bench/e2e/compare_with_peer.py) is printed last.
#
# Every step has its own time limit and the whole run stops starting steps after $TOTAL_LIMIT
# seconds (default 540, under the device's 10-minute command limit); a failed or skipped step
# shows as n/a in the table and makes the exit status 1.
# Output under $OUT (else ./gpu-bench-out): summary.md (the table), results.json, logs.tar.gz.
# Environment: MODELS (default "qwen phi3"; also llama7b), QWEN_DEPTHS / PHI3_DEPTHS / LLAMA7B_DEPTHS
# (comma lists beside depth 0; default 2048 / 3000 / none), REPS (5), MODEL_DIR (/tmp/llama-worker-bench-models),
# PEER_DIR (.peer), TOTAL_LIMIT (540), BACKEND (cuda; cpu only for a smoke test of this script).
# HISTORY=FILE (optional): this run's record (bench/dashboard/append_history.py) is appended to a copy
# of FILE written as $OUT/history.jsonl (HISTORY_OUT=FILE appends in place); ENGINE_COMMIT=SHA names
# the engine commit; unset, it is the one ci/stage-gpu-build.sh wrote into <build>/COMMIT, else this
# tree's HEAD (see bench/dashboard/README.md).
set -u -o pipefail

root=$(pwd)
build=${1:-build/release}
if [ -z "${ENGINE_COMMIT:-}" ] && [ -s "$build/COMMIT" ]; then ENGINE_COMMIT=$(head -n 1 "$build/COMMIT"); fi
worker="$build/bin/llama-worker"
peer=${PEER_DIR:-.peer}
out=${OUT:-$root/gpu-bench-out}
models=${MODELS:-qwen phi3}
reps=${REPS:-5}
model_dir=${MODEL_DIR:-/tmp/llama-worker-bench-models}
total_limit=${TOTAL_LIMIT:-540}
backend=${BACKEND:-cuda}
vocab_dir=conformance/data/vocab
logs=$(mktemp -d /tmp/gpu-bench-logs.XXXXXX)
start=$(date +%s)
failures=0
sampler=""

mkdir -p "$out" "$model_dir" || { echo "error: cannot create $out or $model_dir"; exit 1; }

finish() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  tar -czf "$out/logs.tar.gz" -C "$logs" . 2>/dev/null
}
trap finish EXIT

say() { echo "[gpu-bench $(( $(date +%s) - start ))s] $*"; }

# run_step NAME LIMIT COMMAND...: stdout -> $logs/NAME.out, stderr -> $logs/NAME.err.
run_step() {
  local name=$1 limit=$2
  shift 2
  local left=$(( total_limit - ($(date +%s) - start) - 20 ))
  if (( left < 15 )); then
    say "SKIPPED $name: the run's time limit (${total_limit}s) is reached"
    failures=$((failures + 1))
    return 124
  fi
  (( limit > left )) && limit=$left
  local t0=$(date +%s%N)
  timeout --kill-after=10 "$limit" "$@" > "$logs/$name.out" 2> "$logs/$name.err"
  local rc=$?
  local took_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  local took="$((took_ms / 1000)).$(printf '%03d' $((took_ms % 1000)))"
  if (( rc == 0 )); then
    say "ok      $name (${took}s)"
  else
    failures=$((failures + 1))
    if (( rc == 124 || rc == 137 )); then
      say "TIMEOUT $name after ${limit}s"
    else
      say "FAILED  $name (exit $rc); last lines of its stderr:"
    fi
    tail -n 8 "$logs/$name.err" | sed 's/^/    /'
  fi
  return $rc
}

# nvidia-smi memory.used (MiB) every 100 ms into $logs/smi-NAME.txt until stop_sampler.
start_sampler() {
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 100 > "$logs/smi-$1.txt" 2>/dev/null &
  sampler=$!
  sleep 0.3
}
stop_sampler() {
  sleep 0.3
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null
  sampler=""
}

# --- preflight: everything the run needs, with a clear message for what is missing ------------
problems=()
[ -x "$worker" ] || problems+=("$worker is missing (build with CUDA, carry it: see bench/README.md)")
for tool in llama-bench llama-completion; do
  [ -x "$peer/$tool" ] || problems+=("$peer/$tool is missing (the llama.cpp peer; see bench/README.md)")
done
command -v nvidia-smi > /dev/null || problems+=("nvidia-smi not found: not a GPU machine?")
command -v python3 > /dev/null || problems+=("python3 not found (needed for the comparison table)")
for vocab in qwen2.5-0.5b-instruct.vocab.gguf phi-3-mini-4k-instruct.vocab.gguf llama-spm.vocab.gguf; do
  [ -s "$vocab_dir/$vocab" ] || problems+=("$vocab_dir/$vocab is missing")
done
if (( ${#problems[@]} > 0 )); then
  printf 'error: %s\n' "${problems[@]}"
  exit 1
fi
peer=$(cd "$peer" && pwd)
export LD_LIBRARY_PATH="$peer:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
peer_version=$(head -n 1 "$peer/VERSION" 2>/dev/null || echo "unknown version")
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  if [ -s "$build/COMMIT" ]; then
    echo "engine commit: $(head -n 1 "$build/COMMIT") (the staged build's)$(sed -n '2s/^/ /p' "$build/COMMIT")"
  else
    echo "engine commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
  fi
  echo "llama.cpp: $peer_version"
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.max.sm --format=csv,noheader
} | tee "$logs/machine.txt"
if ! "$worker" bench --help | grep -q -- "--backend.*=cuda"; then
  say "note: $worker may be built without CUDA (its bench --help does not name cuda as the default)"
fi

# --- per model ----------------------------------------------------------------------------------
done_models=""
for model in $models; do
  case $model in
    # Qwen2.5-0.5B ties its output to token_embd (no output.weight): with --tied the file is the
    # real Q4_K_M file's size to the tensor byte (397,805,248 B; llama.cpp's 397,804,576 B differs
    # in metadata only). Phi-3 has its own output.weight (2,396,770,208 B vs 2,396,769,536 B).
    qwen) vocab=qwen2.5-0.5b-instruct.vocab.gguf; depth=${QWEN_DEPTHS:-2048}; shape_flags=--tied; tag=-tied; vram=1 ;;
    phi3) vocab=phi-3-mini-4k-instruct.vocab.gguf; depth=${PHI3_DEPTHS:-3000}; shape_flags=; tag=; vram=1 ;;
    # Llama-2-7B's shape (issue 16): 32 blocks, 4,096 wide, 11,008 feed-forward, 32 heads (no
    # grouping), the llama-spm vocabulary (32,000 tokens); decode speed only (no VRAM rows).
    llama7b) vocab=llama-spm.vocab.gguf; depth=${LLAMA7B_DEPTHS:-}; tag=
      shape_flags="--layers 32 --embd 4096 --ff 11008 --heads 32 --kv-heads 32"; vram=0 ;;
    *) say "unknown model '$model' (qwen, phi3 or llama7b)"; failures=$((failures + 1)); continue ;;
  esac
  depths="0${depth:+,$depth}"
  file="$model_dir/$model$tag-Q4_K_M-seed1.gguf"
  if [ ! -s "$file" ]; then
    run_step "mkmodel-$model" 300 "$worker" mkmodel --vocab "$vocab_dir/$vocab" --quant Q4_K_M --seed 1 \
      $shape_flags -o "$file.partial" && mv "$file.partial" "$file"
  else
    say "cached  $file"
  fi
  if [ ! -s "$file" ]; then
    say "no model file for $model: skipping its benches"
    continue
  fi
  done_models="$done_models,$model"
  say "$model: $(stat -c %s "$file") bytes"
  cat "$file" > /dev/null  # into the page cache (both engines read it from there)

  run_step "ours-$model" 240 "$worker" bench -m "$file" -p 512 -n 128 -d "$depths" -r "$reps" --backend "$backend" \
    --json-out "$logs/ours-$model.json"
  cat "$logs/ours-$model.out" 2>/dev/null
  run_step "peer-bench-$model" 300 "$peer/llama-bench" -m "$file" -p 512 -n 128 -d "$depths" -r "$reps" \
    -fa 1 -ngl 99 -o json

  (( vram )) || continue
  start_sampler "ours-vram-$model"
  run_step "ours-vram-$model" 120 "$worker" bench -m "$file" -p 512 -n 128 -r 1 --ctx 4096 --backend "$backend" \
    --json-out "$logs/ours-vram-$model.json"
  stop_sampler
  start_sampler "peer-completion-$model"
  run_step "peer-completion-$model" 120 "$peer/llama-completion" -m "$file" -c 4096 -ngl 99 -fa on -no-cnv \
    -p "The quick brown fox jumps over the lazy dog." -n 128 --ignore-eos --temp 0 < /dev/null
  stop_sampler
done

# --- the table, last ------------------------------------------------------------------------------
echo
python3 bench/e2e/compare_with_peer.py --logs "$logs" --models "${done_models#,}" --peer-version "$peer_version" \
  --json-out "$out/results.json" | tee "$out/summary.md"
if [ -n "${HISTORY:-}" ]; then
  history_out=${HISTORY_OUT:-$out/history.jsonl}
  if [ "$history_out" != "$HISTORY" ]; then
    if [ -f "$HISTORY" ]; then cp "$HISTORY" "$history_out"; else : > "$history_out"; fi
  fi
  python3 bench/dashboard/append_history.py "$out/results.json" "$history_out" ${ENGINE_COMMIT:+--commit "$ENGINE_COMMIT"} ||
    { say "FAILED  history: no record appended to $history_out"; failures=$((failures + 1)); }
fi
echo "total $(( $(date +%s) - start ))s; $failures step(s) failed or skipped; logs: \$OUT/logs.tar.gz"
(( failures == 0 ))
