#!/usr/bin/env bash
# The issue-16 rows never measured yet, in one device call, side by side with llama.cpp: the
# Llama-2-7B shape (tg128, pp512; ~4.1 GB made here with mkmodel) and Qwen at depth 16,384 and
# 32,000 (the model's trained context). The peer builds from .peer-src while the 7B file is made.
#   bash ci/probes/issue16_rows_not_run.sh      (with .gpu-stage and .peer-src carried)
# Environment: TOTAL (default 580), MODELS (default "llama7b qwen"), QWEN_DEPTHS (16384,32000), REPS (3).
set -u
start=$(date +%s)
total=${TOTAL:-580}
[ -x .gpu-build/bin/llama-worker ] || tar -xJf .gpu-stage/build.tar.xz
export LD_LIBRARY_PATH=$PWD/.gpu-build/lib
(PEER_JOBS=${PEER_JOBS:-14} nice bash .peer-src/build-on-gpu.sh > /tmp/peer-build.log 2>&1
 echo "peer build exit $?" >> /tmp/peer-build.log) &
peer=$!
mkdir -p /tmp/llama-worker-bench-models
file=/tmp/llama-worker-bench-models/llama7b-Q4_K_M-seed1.gguf
[ -s "$file" ] || { .gpu-build/bin/llama-worker mkmodel --vocab conformance/data/vocab/llama-spm.vocab.gguf \
  --quant Q4_K_M --seed 1 --layers 32 --embd 4096 --ff 11008 --heads 32 --kv-heads 32 -o "$file.partial" &&
  mv "$file.partial" "$file"; }
wait "$peer"
tail -n 2 /tmp/peer-build.log
MODELS=${MODELS:-llama7b qwen} QWEN_DEPTHS=${QWEN_DEPTHS:-16384,32000} REPS=${REPS:-3} \
  TOTAL_LIMIT=$((total - ($(date +%s) - start))) ci/gpu-bench.sh .gpu-build
