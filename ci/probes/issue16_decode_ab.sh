#!/usr/bin/env bash
# Issue 16's decode levers, A/B on the same warm machine (no peer): the decode-attention conformance
# (both decode kernels), then tg128 per setting: Qwen at depths 0 / 2,048 / 16,384 / 32,000 with the
# grouped-query decode attention on and off; Phi-3-mini and the Llama-2-7B shape with the decode
# PDL on and off (and on with the norms fused into the products), then the decode-path suites with
# both settings on, and the int8-activation products (LLAMA_WORKER_DECODE_INT8). Carry the full .gpu-stage.   bash ci/probes/issue16_decode_ab.sh
# Environment: MODEL_DIR (/tmp/llama-worker-bench-models; files made here when absent), REPS (3).
set -u
start=$(date +%s)
out=${OUT:-/tmp/issue16-ab}
mkdir -p "$out"
[ -x .gpu-build/bin/llama-worker ] || tar -xJf .gpu-stage/build.tar.xz
# With .peer-src carried: llama.cpp builds in the background (niced) for the next call's record
# (ci/probes/issue16_record.sh finds .peer complete, or resumes /tmp/peer-build, on the warm machine).
if [ -f .peer-src/build-on-gpu.sh ]; then
  setsid nohup nice -n 19 env PEER_JOBS=${PEER_JOBS:-8} bash .peer-src/build-on-gpu.sh > "$out/peer-build.log" 2>&1 < /dev/null &
fi
export LD_LIBRARY_PATH=$PWD/.gpu-build/lib
w=.gpu-build/bin/llama-worker
dir=${MODEL_DIR:-/tmp/llama-worker-bench-models}
reps=${REPS:-3}
vocab=conformance/data/vocab
mkdir -p "$dir"
make_model() {  # name vocab flags...
  local file=$dir/$1 source=$2
  shift 2
  [ -s "$file" ] || timeout 200 "$w" mkmodel --vocab "$vocab/$source" --quant Q4_K_M --seed 1 "$@" -o "$file" > /dev/null
}
make_model qwen-tied-Q4_K_M-seed1.gguf qwen2.5-0.5b-instruct.vocab.gguf --tied
make_model phi3-Q4_K_M-seed1.gguf phi-3-mini-4k-instruct.vocab.gguf
make_model llama7b-Q4_K_M-seed1.gguf llama-spm.vocab.gguf --layers 32 --embd 4096 --ff 11008 --heads 32 --kv-heads 32
echo "models ready after $(( $(date +%s) - start ))s"
timeout 240 .gpu-build/bin/gpu_op_conformance_tests --gtest_filter='*Attention*:*FusedDecode*:*Int8*:*QuantGemv*:*QuantMatmul*' > "$out/conformance.txt" 2>&1
echo "decode-attention conformance exit $?: $(grep -E '^\[  (PASSED|FAILED)' "$out/conformance.txt" | tr '\n' ' ')"
grep -E '^\[  FAILED|Failure' "$out/conformance.txt" | head -8
tg() {  # label env-assignment model depths
  local label=$1 assignment=$2 file=$dir/$3 depths=$4
  env ${assignment//,/ } timeout 200 "$w" bench -m "$file" -p 0 -n 128 -d "$depths" -r "$reps" --backend cuda \
    > "$out/$label.txt" 2>&1 || echo "$label failed"
  grep -E '\| *tg128' "$out/$label.txt" | awk -F'|' -v l="$label" '{gsub(/ +/," ",$6); gsub(/ +/," ",$7); print l ":" $6 ":" $7}'
}
tg qwen-grouped LLAMA_WORKER_GROUPED_ATTENTION=1 qwen-tied-Q4_K_M-seed1.gguf 0,2048,16384,32000
tg qwen-per-head LLAMA_WORKER_GROUPED_ATTENTION=0 qwen-tied-Q4_K_M-seed1.gguf 0,2048,16384,32000
tg phi3-pdl-on LLAMA_WORKER_DECODE_PDL=1 phi3-Q4_K_M-seed1.gguf 0,3000
tg phi3-pdl-off LLAMA_WORKER_DECODE_PDL=0 phi3-Q4_K_M-seed1.gguf 0,3000
tg llama7b-pdl-on LLAMA_WORKER_DECODE_PDL=1 llama7b-Q4_K_M-seed1.gguf 0
tg llama7b-pdl-off LLAMA_WORKER_DECODE_PDL=0 llama7b-Q4_K_M-seed1.gguf 0
# Int8 activations in the decode products (dp4a), with and without PDL.
tg llama7b-int8-pdl LLAMA_WORKER_DECODE_INT8=1,LLAMA_WORKER_DECODE_PDL=1 llama7b-Q4_K_M-seed1.gguf 0
tg llama7b-int8 LLAMA_WORKER_DECODE_INT8=1,LLAMA_WORKER_DECODE_PDL=0 llama7b-Q4_K_M-seed1.gguf 0
tg phi3-int8-pdl LLAMA_WORKER_DECODE_INT8=1,LLAMA_WORKER_DECODE_PDL=1 phi3-Q4_K_M-seed1.gguf 0,3000
tg qwen-int8 LLAMA_WORKER_DECODE_INT8=1 qwen-tied-Q4_K_M-seed1.gguf 0,2048
# The norms inside the products (decode fusion bits 2, 4, 8), now beside PDL.
tg phi3-pdl-norms-fused LLAMA_WORKER_DECODE_PDL=1,LLAMA_WORKER_DECODE_FUSION=31 phi3-Q4_K_M-seed1.gguf 0
tg llama7b-pdl-norms-fused LLAMA_WORKER_DECODE_PDL=1,LLAMA_WORKER_DECODE_FUSION=31 llama7b-Q4_K_M-seed1.gguf 0
# The decode-path suites with both new settings on (they are off by default until this passes).
LLAMA_WORKER_GROUPED_ATTENTION=1 LLAMA_WORKER_DECODE_PDL=wide LLAMA_WORKER_DECODE_INT8=wide OUT=$out/suite \
  CTEST_EXTRA_ARGS="-R gpu_op_conformance|gpu_cuda_backend|gpu_exact_shape|golden_logits.mkmodel|gpu_gate4_reproducibility|gpu_gate3_golden" \
  timeout 300 ci/gpu-suite.sh .gpu-build > "$out/suite.txt" 2>&1
echo "decode suites with grouped attention, wide PDL and wide int8: exit $?"; grep -E "tests passed|\*\*\*Failed" "$out/suite.txt" | head
# Each product alone, fp32 and int8 activations, against the copy rate (kernel bench).
timeout 90 .gpu-build/bin/quant_gemv_bench --benchmark_filter='Q4_K|Q6_K' > "$out/quant_gemv_bench.txt" 2>&1
grep -E "copy rate" "$out/quant_gemv_bench.txt"
grep -E "^(phi3|llama7b|qwen)" "$out/quant_gemv_bench.txt" | sed -E 's/ +/ /g' | awk '{for (i = 1; i <= NF; ++i) if ($i ~ /fraction_of_copy=/ || $i ~ /us_per_launch=/) printf "%s ", $i; print $1}'
echo "total $(( $(date +%s) - start ))s"
# Where the 7B step's time goes (int8 products and PDL on): device time per kernel over 3 decode steps (ncu), the default settings.
mkdir -p "$out/perf"
ln -sf "$dir/llama7b-Q4_K_M-seed1.gguf" "$out/perf/llama7b-Q4_K_M-seed1.gguf"
LLAMA_WORKER_DECODE_INT8=1 LLAMA_WORKER_DECODE_PDL=1 OUT=$out/perf MODEL_DIR=$out/perf MODELS=llama7b PROFILE=1 KERNEL_BENCH=0 REPS=1 VARIANTS=default \
  timeout 200 ci/gpu-perf.sh .gpu-build 2>&1 | sed -n '/device time per decode/,$p'
echo "total $(( $(date +%s) - start ))s"
# Why the 7B products run at 30-40% of the copy rate: ncu's speed-of-light, occupancy and warp-state
# sections for a few decode-step products (quant_gemv kernels after prefill), int8 activations.
if command -v ncu > /dev/null; then
  LLAMA_WORKER_DECODE_INT8=1 timeout 150 ncu --kernel-name regex:quant_gemv --launch-skip 40 --launch-count 8 --cache-control all \
    --clock-control base --section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats \
    --section MemoryWorkloadAnalysis "$w" bench -m "$dir/llama7b-Q4_K_M-seed1.gguf" -p 0 -n 4 -r 1 --no-warmup \
    --backend cuda > "$out/ncu-7b-gemv.txt" 2>&1
  grep -E "quant_gemv|Duration|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Achieved Occupancy|Registers Per|Grid Size|Issue Slots Busy|Stall|L1/TEX Hit|Warp Cycles Per Issued" \
    "$out/ncu-7b-gemv.txt" | grep -v "^==PROF==" | cut -c1-150 | head -120
fi
echo "total $(( $(date +%s) - start ))s"
