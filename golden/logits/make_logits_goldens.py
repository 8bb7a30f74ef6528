#!/usr/bin/env python3
"""Golden logits from an independent oracle: Hugging Face transformers on PyTorch (CPU, fp32),
loading GGUF files through its own GGUF support (the `gguf` package dequantizes the weights).
Never our own engine: the only project code used is `llama-worker mkmodel`, to write the
synthetic model files whose SHA-256 the goldens pin.

For every model in models.json it writes golden/logits/<name>.json:
  header: format_version, oracle (transformers/torch/gguf versions), model (file, SHA-256, how to
          make or fetch it), tolerances
  tokens: the input token ids
  positions[p]: top-k ids and logits, the logits at a fixed set of sampled ids, the log-sum-exp
          over the whole vocabulary (so a shift of every logit is caught), and top1 - top2 margin
  greedy: the greedy continuation (argmax, re-running the whole sequence each step)

Usage (needs: pip install torch transformers gguf numpy):
  golden/logits/make_logits_goldens.py --llama-worker build/release/bin/llama-worker \
      --shared-data ../shared/data [--cache ~/.cache/llama-worker] [--only NAME ...]
Real-weight models are taken from the cache (ci/fetch-*.sh); missing ones are skipped.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

FORMAT_VERSION = 1
TOP_K = 16
SAMPLED_IDS = 256  # logits kept at ids round(i * vocab / SAMPLED_IDS)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def oracle_versions():
    import gguf  # noqa: F401
    import torch
    import transformers
    from importlib.metadata import version
    return {"name": "transformers", "transformers": transformers.__version__, "torch": torch.__version__,
            "gguf": version("gguf"), "dtype": "float32", "device": "cpu"}


def load_model(path):
    import torch
    from transformers import AutoModelForCausalLM
    directory, name = os.path.split(os.path.abspath(path))
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    model.eval()
    return model


def logits_of(model, tokens):
    import torch
    with torch.no_grad():
        out = model(torch.tensor([tokens], dtype=torch.long), use_cache=False)
    return out.logits[0].to(torch.float64).numpy()  # (positions, vocab)


def golden_for(model, tokens, greedy_steps):
    logits = logits_of(model, tokens)
    vocab = logits.shape[1]
    sampled = sorted({min(vocab - 1, round(i * vocab / SAMPLED_IDS)) for i in range(SAMPLED_IDS)})
    positions = []
    for row in logits:
        order = np.argsort(-row, kind="stable")[:TOP_K]
        m = row.max()
        positions.append({
            "top_ids": [int(i) for i in order],
            "top_logits": [float(row[i]) for i in order],
            "margin": float(row[order[0]] - row[order[1]]),
            "logsumexp": float(m + np.log(np.exp(row - m).sum())),
            "sampled_logits": [float(row[i]) for i in sampled],
        })
    sequence = list(tokens)
    greedy, margins = [], []
    for _ in range(greedy_steps):
        row = logits_of(model, sequence)[-1]
        order = np.argsort(-row, kind="stable")[:2]
        greedy.append(int(order[0]))
        margins.append(float(row[order[0]] - row[order[1]]))
        sequence.append(int(order[0]))
    return vocab, sampled, positions, {"tokens": greedy, "margins": margins}


def make_synthetic(llama_worker, shared_data, entry, directory):
    out = os.path.join(directory, entry["name"] + ".gguf")
    args = [a.replace("${SHARED_DATA}", shared_data) for a in entry["mkmodel"]]
    subprocess.run([llama_worker, "mkmodel", *args, "-o", out], check=True, stdout=subprocess.DEVNULL)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llama-worker", required=True)
    parser.add_argument("--shared-data", required=True)
    parser.add_argument("--cache", default=os.environ.get("LLAMA_WORKER_CACHE",
                                                          os.path.expanduser("~/.cache/llama-worker")))
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "models.json")) as handle:
        manifest = json.load(handle)
    oracle = oracle_versions()
    with tempfile.TemporaryDirectory() as scratch:
        for entry in manifest["models"]:
            if args.only and entry["name"] not in args.only:
                continue
            if "mkmodel" in entry:
                path = make_synthetic(args.llama_worker, args.shared_data, entry, scratch)
                source = {"mkmodel": entry["mkmodel"]}
            else:
                path = os.path.join(args.cache, entry["cache_file"])
                if not os.path.exists(path):
                    print(f"skip {entry['name']}: {path} not fetched ({entry['fetch']})", file=sys.stderr)
                    continue
                source = {"cache_file": entry["cache_file"], "fetch": entry["fetch"]}
            digest = sha256_of(path)
            model = load_model(path)
            vocab, sampled, positions, greedy = golden_for(model, entry["tokens"], entry["greedy_steps"])
            golden = {
                "format_version": FORMAT_VERSION,
                "oracle": oracle,
                "model": {"name": entry["name"], "architecture": entry["architecture"], "sha256": digest,
                          "size_bytes": os.path.getsize(path), **source},
                "tolerances": manifest["tolerances"],
                "vocab": vocab,
                "tokens": entry["tokens"],
                "sampled_ids": sampled,
                "positions": positions,
                "greedy": greedy,
            }
            with open(os.path.join(here, entry["name"] + ".json"), "w") as handle:
                json.dump(golden, handle, indent=None, separators=(",", ":"))
                handle.write("\n")
            print(f"{entry['name']}: sha256 {digest}, top1 {[p['top_ids'][0] for p in positions]}, "
                  f"greedy {greedy['tokens']}")


if __name__ == "__main__":
    main()
