#!/usr/bin/env bash
# Issue 16's record in one device call: every gate on the staged build while llama.cpp builds and
# the 7B-shape file is made (ci/probes/issue16_gates_then_peer.sh), then ci/gpu-bench.sh side by side
# with every model and depth of the issue (Qwen 0 / 2,048 / 16,384 / 32,000; Phi-3 0 / 3,000; the
# Llama-2-7B shape), its record appended to a copy of bench/history/records.jsonl ($OUT/history.jsonl).
# Settings under test pass through the environment to every step, e.g.
#   LLAMA_WORKER_GROUPED_ATTENTION=1 LLAMA_WORKER_DECODE_PDL=wide bash ci/probes/issue16_record.sh
# Then, with the time left, tg128 A/Bs of the decode settings. Carry the full .gpu-stage and .peer-src.   bash ci/probes/issue16_record.sh
set -u
start=$(date +%s)
out=${OUT:-/tmp/issue16-record}
mkdir -p "$out/prep"
OUT=$out/prep TOTAL=${PREP_TOTAL:-420} bash ci/probes/issue16_gates_then_peer.sh 2>&1 | tail -n 14
export LD_LIBRARY_PATH=$PWD/.gpu-build/lib
left=$(( ${TOTAL:-585} - ($(date +%s) - start) ))
MODELS="qwen phi3 llama7b" QWEN_DEPTHS=2048,16384,32000 PHI3_DEPTHS=3000 REPS=${REPS:-3} TOTAL_LIMIT=$left \
  HISTORY=bench/history/records.jsonl OUT=$out ci/gpu-bench.sh .gpu-build 2>&1 | sed -n '/^| model | figure/,$p'
# With the time left: the levers of this run's defaults, each against its other setting (tg128 only).
w=.gpu-build/bin/llama-worker
dir=/tmp/llama-worker-bench-models
ab() {  # label assignment file depths
  (( $(date +%s) - start < ${TOTAL:-585} - 40 )) || { echo "$1: no time left"; return; }
  env $2 timeout 60 "$w" bench -m "$dir/$3" -p 0 -n 128 -d "$4" -r 2 --backend cuda 2>&1 |
    grep -E '\| *tg128' | awk -F'|' -v l="$1" '{gsub(/ +/," ",$6); gsub(/ +/," ",$7); print l ":" $6 ":" $7}'
}
ab qwen-per-head-attention LLAMA_WORKER_GROUPED_ATTENTION=0 qwen-tied-Q4_K_M-seed1.gguf 16384,32000
ab llama7b-int8-off LLAMA_WORKER_DECODE_INT8=0 llama7b-Q4_K_M-seed1.gguf 0
ab phi3-int8-off LLAMA_WORKER_DECODE_INT8=0 phi3-Q4_K_M-seed1.gguf 0
ab llama7b-pdl-off LLAMA_WORKER_DECODE_PDL=0 llama7b-Q4_K_M-seed1.gguf 0
ab llama7b-norms-fused LLAMA_WORKER_DECODE_FUSION=31 llama7b-Q4_K_M-seed1.gguf 0
ab phi3-pdl-off LLAMA_WORKER_DECODE_PDL=0 phi3-Q4_K_M-seed1.gguf 0
ab phi3-norms-fused LLAMA_WORKER_DECODE_FUSION=31 phi3-Q4_K_M-seed1.gguf 0
echo "record call total $(( $(date +%s) - start ))s"
