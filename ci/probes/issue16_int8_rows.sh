#!/usr/bin/env bash
# Issue 16 probe: the int8 decode products with 1 row per warp (16 rows per block, twice the blocks)
# against 2 (the default), from LLAMA_WORKER_INT8_ROWS (1, 2, small = 1 for calls of at most 8,192
# rows). Checks first that the int8 conformance tests pass with each setting (the bits must not
# depend on it: one warp computes a row the same way), then the kernel bench's int8 cases and tg128
# of the Llama-2-7B shape and Phi-3-mini with each. Needs the staged build (.gpu-build) and the
# bench models in $MODEL_DIR (ci/gpu-bench.sh makes them). Usage: bash ci/probes/issue16_int8_rows.sh
set -u
start=$(date +%s)
out=${OUT:-/tmp/issue16-int8-rows}
mkdir -p "$out"
[ -x .gpu-build/bin/llama-worker ] || tar -xJf .gpu-stage/build.tar.xz
export LD_LIBRARY_PATH=$PWD/.gpu-build/lib
w=.gpu-build/bin/llama-worker
dir=${MODEL_DIR:-/tmp/llama-worker-bench-models}
for rows in 1 small; do
  LLAMA_WORKER_INT8_ROWS=$rows timeout 120 .gpu-build/bin/gpu_op_conformance_tests --gtest_filter='*Int8*' \
    > "$out/conformance-rows-$rows.txt" 2>&1
  echo "int8 conformance rows=$rows exit $?: $(grep -E '^\[  (PASSED|FAILED)' "$out/conformance-rows-$rows.txt" | tr '\n' ' ')"
done
for rows in 2 1; do
  LLAMA_WORKER_INT8_ROWS=$rows timeout 120 .gpu-build/bin/quant_gemv_bench --benchmark_filter='_int8' \
    --benchmark_min_time=0.2s --benchmark_format=csv > "$out/kernel-rows-$rows.csv" 2> "$out/kernel-rows-$rows.err"
done
# name, us_per_launch, fraction_of_copy from the csv (columns found by the header).
columns() {
  awk -F, '/^name,/ { gsub(/"/, ""); for (i = 1; i <= NF; ++i) { if ($i == "us_per_launch") u = i; if ($i == "fraction_of_copy") f = i }; next }
           u && f && /_int8/ { gsub(/"/, "", $1); printf "%s %.2f %.0f%%\n", $1, $u, 100 * $f }' "$1" | sort
}
echo "| case | rows=2 us | rows=2 of copy | rows=1 us | rows=1 of copy |"
join <(columns "$out/kernel-rows-2.csv") <(columns "$out/kernel-rows-1.csv") |
  awk '{print "| " $1 " | " $2 " | " $3 " | " $4 " | " $5 " |"}'
tg() {  # label assignments (comma-separated) model
  (( $(date +%s) - start < ${TOTAL:-280} - 30 )) || { echo "$1: no time left"; return; }
  env ${2//,/ } timeout 90 "$w" bench -m "$dir/$3" -p 0 -n 128 -r 3 --backend cuda > "$out/$1.txt" 2>&1 ||
    echo "$1 failed"
  grep -E '\| *tg128' "$out/$1.txt" | awk -F'|' -v l="$1" '{gsub(/ +/," ",$6); gsub(/ +/," ",$7); print l ":" $6 ":" $7}'
}
tg llama7b-rows2 LLAMA_WORKER_INT8_ROWS=2 llama7b-Q4_K_M-seed1.gguf
tg llama7b-rows1 LLAMA_WORKER_INT8_ROWS=1 llama7b-Q4_K_M-seed1.gguf
tg llama7b-small LLAMA_WORKER_INT8_ROWS=small llama7b-Q4_K_M-seed1.gguf
tg phi3-rows2 LLAMA_WORKER_INT8_ROWS=2 phi3-Q4_K_M-seed1.gguf
tg phi3-rows1 LLAMA_WORKER_INT8_ROWS=1 phi3-Q4_K_M-seed1.gguf
tg phi3-small LLAMA_WORKER_INT8_ROWS=small phi3-Q4_K_M-seed1.gguf
# The RMSNorms inside the int8 products (decode fusion bits 2, 4, 8: no norm launches).
tg llama7b-norms-fused LLAMA_WORKER_DECODE_FUSION=31 llama7b-Q4_K_M-seed1.gguf
tg phi3-norms-fused LLAMA_WORKER_DECODE_FUSION=31 phi3-Q4_K_M-seed1.gguf
echo "total $(( $(date +%s) - start ))s"
