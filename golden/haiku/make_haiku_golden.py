#!/usr/bin/env python3
"""Golden greedy continuation of the gate-2 haiku prompt, from an independent oracle: Hugging Face
transformers on PyTorch (CPU, fp32), loading the GGUF file through its own GGUF support (the
`gguf` package dequantizes the weights; transformers builds the tokenizer from the file's
metadata and formats the chat with the file's own Jinja chat template). Never our own engine.

Writes golden/haiku/<name>.json:
  format_version, oracle (transformers/torch/gguf/tokenizers versions, dtype, device),
  model (file name, SHA-256, size, general.name, how to fetch it),
  user_message, chat_text (apply_chat_template with add_generation_prompt), prompt_tokens,
  greedy: tokens, per-step top1 - top2 margin and runner-up id (the whole sequence is re-run at
          every step, no KV cache), text (decoded, special tokens skipped), stopped_at_eos,
  compare_tokens: how many leading tokens the test compares (16), and the prefix safe_tokens
          whose every margin exceeds min_margin (the fallback, unused while the plain comparison holds).

Usage (pip install torch transformers gguf numpy; ~1 minute on 2 cores):
  nice golden/haiku/make_haiku_golden.py [--model FILE] [--steps 40]
Default FILE: ${LLAMA_WORKER_CACHE:-~/.cache/llama-worker}/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
(ci/fetch-qwen2.5-coder-0.5b-instruct.sh).
"""
import argparse
import hashlib
import json
import os
import sys

FORMAT_VERSION = 1
USER_MESSAGE = "Write a haiku about a GPU."
COMPARE_TOKENS = 16
MIN_MARGIN = 0.05  # logits; below this an fp32 oracle and a Q4_K engine may legitimately disagree


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main():
    cache = os.environ.get("LLAMA_WORKER_CACHE", os.path.expanduser("~/.cache/llama-worker"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(cache, "models", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"))
    parser.add_argument("--fetch", default="ci/fetch-qwen2.5-coder-0.5b-instruct.sh")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import numpy as np
    import torch
    import tokenizers
    import transformers
    from importlib.metadata import version
    from transformers import AutoModelForCausalLM, AutoTokenizer
    import gguf

    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    path = os.path.abspath(args.model)
    if not os.path.exists(path):
        sys.exit(f"missing model file {path} (run {args.fetch})")
    directory, name = os.path.split(path)
    reader = gguf.GGUFReader(path)
    field = reader.fields.get("general.name")
    general_name = bytes(field.parts[field.data[0]]).decode() if field else ""

    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    model.eval()
    chat_text = tokenizer.apply_chat_template([{"role": "user", "content": USER_MESSAGE}], tokenize=False,
                                              add_generation_prompt=True)
    prompt_tokens = tokenizer(chat_text, add_special_tokens=False)["input_ids"]
    eos_ids = {i for i in [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>"),
                           tokenizer.convert_tokens_to_ids("<|endoftext|>")] if isinstance(i, int) and i >= 0}

    sequence = list(prompt_tokens)
    tokens, margins, runner_up = [], [], []
    stopped_at_eos = False
    with torch.no_grad():
        for _ in range(args.steps):
            logits = model(torch.tensor([sequence], dtype=torch.long), use_cache=False).logits[0, -1]
            row = logits.to(torch.float64).numpy()
            order = np.argsort(-row, kind="stable")[:2]
            tokens.append(int(order[0]))
            runner_up.append(int(order[1]))
            margins.append(float(row[order[0]] - row[order[1]]))
            sequence.append(int(order[0]))
            if int(order[0]) in eos_ids:
                stopped_at_eos = True
                break
    safe = 0
    while safe < len(margins) and margins[safe] > MIN_MARGIN:
        safe += 1
    text = tokenizer.decode(tokens, skip_special_tokens=True)
    golden = {
        "format_version": FORMAT_VERSION,
        "oracle": {"name": "transformers", "transformers": transformers.__version__, "torch": torch.__version__,
                   "gguf": version("gguf"), "tokenizers": tokenizers.__version__, "dtype": "float32", "device": "cpu",
                   "method": "greedy argmax, whole sequence re-run at every step (no KV cache)"},
        "model": {"file": name, "sha256": sha256_of(path), "size_bytes": os.path.getsize(path),
                  "general_name": general_name, "fetch": args.fetch},
        "user_message": USER_MESSAGE,
        "chat_text": chat_text,
        "prompt_tokens": prompt_tokens,
        "compare_tokens": COMPARE_TOKENS,
        "min_margin": MIN_MARGIN,
        "safe_tokens": safe,
        "greedy": {"tokens": tokens, "margins": margins, "runner_up": runner_up, "text": text,
                   "stopped_at_eos": stopped_at_eos},
    }
    here = os.path.dirname(os.path.abspath(__file__))
    out = args.out or os.path.join(here, os.path.splitext(name)[0] + ".json")
    with open(out, "w") as handle:
        json.dump(golden, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    print(f"{out}: prompt {len(prompt_tokens)} tokens, greedy {tokens[:COMPARE_TOKENS]}, "
          f"min margin of the first {COMPARE_TOKENS}: {min(margins[:COMPARE_TOKENS]):.4f}, safe prefix {safe}")
    print(text)


if __name__ == "__main__":
    main()
