#!/usr/bin/env bash
# Which kernel family, launched with programmatic dependent launch in the batched step
# (LLAMA_WORKER_BATCHED_PDL bits: 1 products, 2 norms, 4 RoPE, 8 attention), keeps
# gpu_cuda_batched_tests' invariance, and what each gives one Qwen stream. One device call:
#   bash ci/probes/batched_pdl_bisect.sh      (with .gpu-stage carried)
set -u
[ -x .gpu-build/bin/llama-worker ] || tar -xJf .gpu-stage/build.tar.xz
export LD_LIBRARY_PATH=$PWD/.gpu-build/lib
w=.gpu-build/bin/llama-worker
v=conformance/data/vocab
g=/tmp/golden
mkdir -p $g
nvidia-smi --query-gpu=name --format=csv,noheader
$w mkmodel --vocab $v/qwen2.5-0.5b-instruct.vocab.gguf --quant Q4_K_M --seed 1 --layers 2 --embd 256 --ff 512 \
  --heads 4 --kv-heads 2 --tied -o $g/synthetic-qwen2-q4_k_m.gguf > /dev/null
$w mkmodel --vocab $v/llama-spm.vocab.gguf --quant Q4_K_M --seed 3 --layers 2 --embd 256 --ff 512 --heads 4 \
  --kv-heads 2 -o $g/synthetic-llama-q4_k_m.gguf > /dev/null
$w mkmodel --vocab $v/qwen2.5-0.5b-instruct.vocab.gguf --tied --quant Q4_K_M --seed 1 -o /tmp/qwen.gguf > /dev/null
for mask in ${MASKS:-0 15 1 2 4 8}; do
  LLAMA_WORKER_BATCHED_PDL=$mask LLAMA_WORKER_GOLDEN_MODELS=$g timeout 120 .gpu-build/bin/gpu_cuda_batched_tests \
    --gtest_filter='*SixtyFour*q4_k_m*:*Greedy*q4_k_m*' > /tmp/t$mask.log 2>&1
  echo "mask $mask: tests exit $? ($(grep -c '^\[       OK' /tmp/t$mask.log) ok, $(grep -c '^\[  FAILED  \] Synth' /tmp/t$mask.log) failed)"
done
for mask in ${MASKS:-0 15 1 2 4 8} 0 15; do
  echo "mask $mask: $(LLAMA_WORKER_BATCHED_PDL=$mask timeout 60 $w bench -m /tmp/qwen.gguf --backend cuda -p 128 -n 128 \
    --parallel 1 2>&1 | grep -E '^\| 128' | awk -F'|' '{print "S_TG x1 " $9}')"
done
