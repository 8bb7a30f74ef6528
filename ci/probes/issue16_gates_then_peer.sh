#!/usr/bin/env bash
# First of the two device calls that record issue 16 (the second is ci/gpu-bench.sh with every model
# and depth): every gate on the staged build (ci/gpu-gates.sh) while llama.cpp builds from
# .peer-src into .peer/ and the Llama-2-7B-shape file is made in $MODEL_DIR, both kept on the warm
# machine for the next call. Carry .gpu-stage (the full stage) and .peer-src.
#   bash ci/probes/issue16_gates_then_peer.sh
# Environment: TOTAL (seconds, default 570), MODEL_DIR (/tmp/llama-worker-bench-models), GATES=gpu (only
# the GPU-labelled tests, ci/gpu-suite.sh, instead of every gate).
set -u
start=$(date +%s)
total=${TOTAL:-570}
out=${OUT:-/tmp/issue16-out}
mkdir -p "$out"
[ -x .gpu-build/bin/llama-worker ] || tar -xJf .gpu-stage/build.tar.xz
export LD_LIBRARY_PATH=$PWD/.gpu-build/lib
model_dir=${MODEL_DIR:-/tmp/llama-worker-bench-models}
mkdir -p "$model_dir"
file=$model_dir/llama7b-Q4_K_M-seed1.gguf
(
  PEER_JOBS=${PEER_JOBS:-10} nice bash .peer-src/build-on-gpu.sh > "$out/peer-build.log" 2>&1
  echo "peer build exit $?" >> "$out/peer-build.log"
) &
peer=$!
(
  s=$(date +%s)
  [ -s "$file" ] || { nice .gpu-build/bin/llama-worker mkmodel --vocab conformance/data/vocab/llama-spm.vocab.gguf \
    --quant Q4_K_M --seed 1 --layers 32 --embd 4096 --ff 11008 --heads 32 --kv-heads 32 -o "$file.partial" &&
    mv "$file.partial" "$file"; }
  echo "7B file: $(stat -c %s "$file" 2>/dev/null || echo missing) bytes after $(( $(date +%s) - s ))s"
) > "$out/mkmodel-7b.log" 2>&1 &
maker=$!
if [ "${GATES:-all}" = gpu ]; then  # the GPU-labelled tests only (the gates' CPU tests run in CI)
  mkdir -p "$out/gates"
  timeout $((total - 60)) ci/gpu-suite.sh .gpu-build '^gpu$' > "$out/gates/gpu.log" 2>&1
  echo "gpu suite exit $? after $(( $(date +%s) - start ))s" | tee "$out/gates.txt"
  grep -E "tests passed|tests failed|\*\*\*Failed|Failed  " "$out/gates/gpu.log" | head -12 >> "$out/gates.txt"
else
  OUT=$out/gates timeout $((total - 60)) ci/gpu-gates.sh .gpu-build > "$out/gates.txt" 2>&1
  echo "gates exit $? after $(( $(date +%s) - start ))s"
fi
for pid in $peer $maker; do
  while kill -0 "$pid" 2>/dev/null && (( $(date +%s) - start < total - 5 )); do sleep 2; done
done
tar -czf "$out/gates-logs.tar.gz" -C "$out" gates 2>/dev/null && rm -rf "$out/gates"
tail -n 3 "$out/peer-build.log"; cat "$out/mkmodel-7b.log"; cat "$out/gates.txt"
echo "total $(( $(date +%s) - start ))s"
