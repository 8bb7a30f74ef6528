#!/usr/bin/env bash
# One device call for many inferences per model (issue 17), everything that work needs:
#   1. op conformance of the batched kernels (column-invariant products, paged KV store and
#      attention) and of everything else, against their CPU twins;
#   2. gpu_cuda_batched_tests: the CUDA batched forward vs the CPU reference, and 64 sequences
#      through the scheduler equal to each alone, bit for bit (synthetic golden models, made here);
#      gpu_capi_multi_inference_tests: the same through the C API from many threads (if staged);
#      gpu_capi_device_fault_batched_tests: a device fault with several inferences live (if staged);
#   3. side by side with llama.cpp's llama-batched-bench (-npp 128 -ntg 128 -npl 1,4,16,64) on the
#      exact-shape Qwen2.5-0.5B and Phi-3-mini Q4_K_M files, against `llama-worker bench --parallel`,
#      plus our single-stream tg128 (plain path) for the per-stream comparison.
# The peer is built in the background from .peer-src (bench/README.md) while 1 and 2 run.
# Usage, from the repository root on the GPU machine, with .gpu-stage and .peer-src carried:
#   ci/gpu-check-batched.sh [stage-dir]        (default .gpu-build; unpacked from .gpu-stage if absent)
# Environment: TOTAL (seconds for the whole call, default 585), MODELS (default "qwen phi3"),
# PARALLEL (default 1,4,16,64), SKIP_PEER (set: no llama.cpp build or rows, e.g. when the device
# budget is short), AB_ENV (settings of a second `bench --parallel` run of the first model, for an
# A/B in the same call, e.g. LLAMA_WORKER_BATCHED_WEIGHTS=quant), CONFORMANCE_FILTER (a gtest filter for
# the op conformance binary), CAPI_SANITIZE (set: gpu_capi_multi_inference_tests also under
# compute-sanitizer memcheck), PEER_BUILD_DONE (a file: the caller started the peer build
# itself, earlier in the call, and touches this file when it ends; the rows wait for it), KV_4096 (set: one 4,096-position stream per model, the KV pool
# planned and measured), KERNEL_BENCH (set: fragment_mma_bench if staged, KERNEL_BENCH_FILTER its
# filter). Logs under $OUT; a short table last. ci/batched_history.py makes the bench/history record
# of a call that ran the peer from those logs.
set -u -o pipefail
stage=${1:-.gpu-build}
out=${OUT:-$PWD/gpu-check-out}
total=${TOTAL:-585}
parallel=${PARALLEL:-1,4,16,64}
models=${MODELS:-qwen phi3}
start=$(date +%s)
mkdir -p "$out"
left() { echo $((total - ($(date +%s) - start))); }
say() { echo "[batched $(($(date +%s) - start))s] $*"; }

[ -x "$stage/bin/llama-worker" ] || tar -xJf .gpu-stage/build.tar.xz
export LD_LIBRARY_PATH="$PWD/$stage/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
worker="$stage/bin/llama-worker"
if [ -n "${PEER_BUILD_DONE:-}" ]; then
  peer_build=""  # the caller builds it and touches $PEER_BUILD_DONE when done
elif [ -z "${SKIP_PEER:-}" ] && [ ! -x .peer/llama-batched-bench ]; then
  (PEER_JOBS=${PEER_JOBS:-12} nice bash .peer-src/build-on-gpu.sh > "$out/peer-build.log" 2>&1
   echo "peer build exit $?" >> "$out/peer-build.log") &
  peer_build=$!
else
  peer_build=""
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/machine.txt"

say "synthetic golden models"
golden=/tmp/llama-worker-golden-models
mkdir -p "$golden"
vocab=conformance/data/vocab
make_golden() {  # name vocab quant seed extra...
  local name=$1 v=$2 quant=$3 seed=$4
  shift 4
  [ -s "$golden/$name.gguf" ] || "$worker" mkmodel --vocab "$vocab/$v" --quant "$quant" --seed "$seed" --layers 2 \
    --embd 256 --ff 512 --heads 4 "$@" -o "$golden/$name.gguf" > /dev/null
}
make_golden synthetic-qwen2-q4_k_m qwen2.5-0.5b-instruct.vocab.gguf Q4_K_M 1 --kv-heads 2 --tied
make_golden synthetic-qwen2-f16 qwen2.5-0.5b-instruct.vocab.gguf F16 1 --kv-heads 2 --tied
make_golden synthetic-phi3-q4_k_m phi-3-mini-4k-instruct.vocab.gguf Q4_K_M 2 --kv-heads 4
make_golden synthetic-llama-q4_k_m llama-spm.vocab.gguf Q4_K_M 3 --kv-heads 2
ls -la "$golden" | tail -n +2 | awk '{print "  " $5, $9}'

say "op conformance"
timeout 200 "$stage/bin/gpu_op_conformance_tests" ${CONFORMANCE_FILTER:+--gtest_filter=$CONFORMANCE_FILTER} > "$out/op-conformance.log" 2>&1
conformance=$?
grep -E "FAILED|Failure" "$out/op-conformance.log" | head -20
grep -E "PASSED|tests ran" "$out/op-conformance.log" | tail -2

if [ -n "${KERNEL_BENCH:-}" ] && [ -x "$stage/bin/fragment_mma_bench" ]; then
  say "fragment_mma_bench (us per launch, fraction of the copy rate)"
  timeout 150 "$stage/bin/fragment_mma_bench" --benchmark_min_time=0.05 --benchmark_out="$out/fragment_mma_bench.json" \
    --benchmark_out_format=json ${KERNEL_BENCH_FILTER:+--benchmark_filter=$KERNEL_BENCH_FILTER} > "$out/fragment_mma_bench.txt" 2>&1
  grep "copy rate" "$out/fragment_mma_bench.txt"
  python3 ci/kernel_bench_table.py "$out/fragment_mma_bench.json"
fi

say "batched forward end to end"
LLAMA_WORKER_GOLDEN_MODELS=$golden timeout 240 "$stage/bin/gpu_cuda_batched_tests" > "$out/batched.log" 2>&1
batched=$?
grep -E "tokens in|FAILED|Failure|PASSED|SKIPPED" "$out/batched.log" | head -30
grep -E "NMSE" "$out/batched.log" | sort -k9 -g | tail -2

capi=skipped
if [ -x "$stage/bin/gpu_capi_multi_inference_tests" ]; then
  say "C API, several inferences on the CUDA backend (plain, then under compute-sanitizer memcheck)"
  export LLAMA_WORKER_SHARED_DATA_DIR=$PWD/conformance/data  # the C API test models' vocabulary
  timeout 150 "$stage/bin/gpu_capi_multi_inference_tests" > "$out/capi-multi.log" 2>&1
  capi=$?
  grep -E "FAILED|Failure|PASSED|SKIPPED" "$out/capi-multi.log" | head -12
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2> /dev/null)
  if [ -n "${CAPI_SANITIZE:-}" ] && [ -n "$sanitizer" ]; then
    timeout 240 "$sanitizer" --tool memcheck --leak-check full --error-exitcode 9 \
      "$stage/bin/gpu_capi_multi_inference_tests" > "$out/capi-multi-memcheck.log" 2>&1
    capi="$capi, memcheck exit $?"
    grep -E "ERROR SUMMARY|PASSED|FAILED" "$out/capi-multi-memcheck.log" | tail -3
  fi
fi
fault=skipped
if [ -x "$stage/bin/gpu_capi_device_fault_batched_tests" ]; then
  say "C API, a device fault with several inferences live (sticky, every inference told)"
  LLAMA_WORKER_SHARED_DATA_DIR=$PWD/conformance/data timeout 100 "$stage/bin/gpu_capi_device_fault_batched_tests" \
    > "$out/capi-fault-batched.log" 2>&1
  fault=$?
  grep -E "FAILED|Failure|PASSED|SKIPPED" "$out/capi-fault-batched.log" | head -8
fi

say "exact-shape models"
model_dir=/tmp/llama-worker-bench-models
mkdir -p "$model_dir"
for model in $models; do
  case $model in
    qwen) file=$model_dir/qwen-tied-Q4_K_M-seed1.gguf; flags="--vocab $vocab/qwen2.5-0.5b-instruct.vocab.gguf --tied" ;;
    phi3) file=$model_dir/phi3-Q4_K_M-seed1.gguf; flags="--vocab $vocab/phi-3-mini-4k-instruct.vocab.gguf" ;;
  esac
  [ -s "$file" ] || { timeout $(($(left) - 200)) "$worker" mkmodel $flags --quant Q4_K_M --seed 1 -o "$file.partial" \
    > /dev/null && mv "$file.partial" "$file"; }
  cat "$file" > /dev/null
done

if [ -n "$peer_build" ]; then
  say "waiting for the peer build"
  while kill -0 "$peer_build" 2> /dev/null && (($(left) > 150)); do sleep 5; done
  tail -n 2 "$out/peer-build.log"
elif [ -n "${PEER_BUILD_DONE:-}" ]; then
  say "waiting for the peer build (started by the caller)"
  while [ ! -e "$PEER_BUILD_DONE" ] && (($(left) > 150)); do sleep 5; done
fi
export LD_LIBRARY_PATH="$PWD/.peer:/usr/local/cuda/lib64:$LD_LIBRARY_PATH"
for model in $models; do
  case $model in
    qwen) file=$model_dir/qwen-tied-Q4_K_M-seed1.gguf ;;
    phi3) file=$model_dir/phi3-Q4_K_M-seed1.gguf ;;
  esac
  [ -s "$file" ] || continue
  (($(left) > 30)) || break
  say "$model: ours, bench --parallel $parallel"
  timeout $(($(left) / 2)) "$worker" bench -m "$file" --backend cuda -p 128 -n 128 --parallel "$parallel" \
    --json-out "$out/ours-parallel-$model.json" > "$out/ours-parallel-$model.log" 2>&1
  echo "exit $?" >> "$out/ours-parallel-$model.log"
  cat "$out/ours-parallel-$model.log"
  if [ -n "${AB_ENV:-}" ] && [ "$model" = "${models%% *}" ]; then
    say "$model: ours with $AB_ENV"
    (export $AB_ENV && timeout $(($(left) / 2)) "$worker" bench -m "$file" --backend cuda -p 128 -n 128 \
      --parallel "$parallel" 2>&1 | grep -E '^\|')
  fi
  if [ -n "${KV_4096:-}" ]; then
    say "$model: one 4,096-position sequence (the KV pool planned and measured)"
    timeout 90 "$worker" bench -m "$file" --backend cuda -p 4031 -n 64 --parallel 1 2>&1 | grep -E "KV pool of|^\| 4031"
  fi
  say "$model: ours, single stream tg128 (the one-inference path)"
  timeout 60 "$worker" bench -m "$file" --backend cuda -p 128 -n 128 -r 3 --json-out "$out/ours-single-$model.json" 2>&1 |
    grep -E '^\|' | tail -n +3
  (($(left) > 20)) && [ -x .peer/llama-batched-bench ] || continue
  say "$model: llama-batched-bench -npp 128 -ntg 128 -npl $parallel"
  timeout $(($(left) - 10)) .peer/llama-batched-bench -m "$file" -ngl 99 -fa on -c $((128 * 2 * 64 + 256)) \
    -b 2048 -ub 512 -npp 128 -ntg 128 -npl "$parallel" > "$out/peer-parallel-$model.log" 2>&1
  echo "exit $?" >> "$out/peer-parallel-$model.log"
  grep -E '^\|' "$out/peer-parallel-$model.log"
done
echo
echo "| check | result |"
echo "|---|---|"
echo "| op conformance | exit $conformance |"
echo "| batched forward tests | exit $batched |"
echo "| C API several inferences (CUDA) | exit $capi |"
echo "| C API device fault, several live | exit $fault |"
echo "| total | $(($(date +%s) - start)) s |"
