#!/usr/bin/env bash
# Issue 16's record in one device call: every gate on the staged build while llama.cpp builds and
# the 7B-shape file is made (ci/probes/issue16_gates_then_peer.sh), then ci/gpu-bench.sh side by side
# with every model and depth of the issue (Qwen 0 / 2,048 / 16,384 / 32,000; Phi-3 0 / 3,000; the
# Llama-2-7B shape), its record appended to a copy of bench/history/records.jsonl ($OUT/history.jsonl).
# Carry the full .gpu-stage and .peer-src.   bash ci/probes/issue16_record.sh
set -u
start=$(date +%s)
out=${OUT:-/tmp/issue16-record}
mkdir -p "$out/prep"
OUT=$out/prep TOTAL=${PREP_TOTAL:-420} bash ci/probes/issue16_gates_then_peer.sh 2>&1 | tail -n 14
export LD_LIBRARY_PATH=$PWD/.gpu-build/lib
left=$(( ${TOTAL:-585} - ($(date +%s) - start) ))
MODELS="qwen phi3 llama7b" QWEN_DEPTHS=2048,16384,32000 PHI3_DEPTHS=3000 REPS=${REPS:-3} TOTAL_LIMIT=$left \
  HISTORY=bench/history/records.jsonl OUT=$out ci/gpu-bench.sh .gpu-build 2>&1 | sed -n '/^| model | figure/,$p'
echo "record call total $(( $(date +%s) - start ))s"
