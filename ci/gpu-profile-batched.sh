#!/usr/bin/env bash
# Where a batched decode step's device time goes: Nsight Compute times every kernel of a window of
# decode steps of `llama-worker bench --parallel N` (-p 1, so almost every step is a decode step)
# on the exact-shape Qwen2.5-0.5B / Phi-3-mini Q4_K_M files, and ci/ncu_kernel_table.py sums the
# times per kernel. The bench's own wall time per step, without the profiler, comes first, so the
# host's share is wall minus device. Usage on the GPU machine, with .gpu-stage carried:
#   ci/gpu-profile-batched.sh [stage-dir]
# Environment: MODELS (default "qwen phi3"), STREAMS (default "16 64"), LAUNCHES (kernels timed
# per case, default 1500), SKIP (kernels skipped first: load, warm-up, prefill; default 6000).
set -u -o pipefail
stage=${1:-.gpu-build}
out=${OUT:-$PWD/gpu-profile-out}
mkdir -p "$out"
[ -x "$stage/bin/llama-worker" ] || tar -xJf .gpu-stage/build.tar.xz
export LD_LIBRARY_PATH="$PWD/$stage/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
worker="$stage/bin/llama-worker"
vocab=conformance/data/vocab
model_dir=/tmp/llama-worker-bench-models
mkdir -p "$model_dir"
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2> /dev/null | head -1)
for model in ${MODELS:-qwen phi3}; do
  case $model in
    qwen) file=$model_dir/qwen-tied-Q4_K_M-seed1.gguf; flags="--vocab $vocab/qwen2.5-0.5b-instruct.vocab.gguf --tied" ;;
    phi3) file=$model_dir/phi3-Q4_K_M-seed1.gguf; flags="--vocab $vocab/phi-3-mini-4k-instruct.vocab.gguf" ;;
  esac
  [ -s "$file" ] || "$worker" mkmodel $flags --quant Q4_K_M --seed 1 -o "$file" > /dev/null
  for streams in ${STREAMS:-16 64}; do
    echo "== $model, $streams streams: wall time (bench --parallel $streams -p 1 -n 64)"
    "$worker" bench -m "$file" --backend cuda -p 1 -n 64 --parallel "$streams" 2>&1 | grep -E '^\| +1 ' |
      awk -F'|' '{printf "decode %s s for 64 steps: %.3f ms per step\n", $8, $8 * 1000 / 64}'
    [ -n "$ncu" ] || { echo "no ncu"; continue; }
    "$ncu" --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip "${SKIP:-6000}" \
      --launch-count "${LAUNCHES:-1500}" "$worker" bench -m "$file" --backend cuda -p 1 -n 64 \
      --parallel "$streams" > "$out/ncu-$model-$streams.csv" 2> "$out/ncu-$model-$streams.err"
    python3 ci/ncu_kernel_table.py "$out/ncu-$model-$streams.csv"
  done
done
