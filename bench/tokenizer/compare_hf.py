#!/usr/bin/env python3
"""Encode throughput: ours (tokenizer_encode_bench, Google Benchmark) beside Hugging Face
tokenizers on the same >= 1 MiB multilingual text, in the same run, one thread each.

1. runs the benchmark binary, which writes the text it encodes (--text-out) and reports MB/s;
2. encodes that file with Hugging Face tokenizers (Qwen: qwen2.5-tokenizer.json.gz; Phi-3:
   transformers' GGUF conversion, as in golden/tokenizer/make_goldens.py), the median of N timed runs
   of Tokenizer.encode on the whole text (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false);
   and, as a second Hugging Face figure, the same text as one input per line (encode_batch on
   one thread: its usual way of working, and its fastest);
3. checks both produce the same number of ids, and prints a table (and --json PATH).

Usage (under nice, on an otherwise idle machine):
  nice -n 19 python3 bench/tokenizer/compare_hf.py --bench build/release/bin/tokenizer_encode_bench
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "golden", "tokenizer"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", default=os.path.join(ROOT, "build", "release", "bin", "tokenizer_encode_bench"))
    parser.add_argument("--vocab-dir", default=os.path.join(ROOT, "conformance", "data", "vocab"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default="")
    parser.add_argument("--hf-tokenizer-dir", default="",
                        help="read the Hugging Face tokenizers from qwen2_5.json / phi3.json here (written by "
                             "--export-hf-tokenizers) instead of building them: needs only the tokenizers package")
    parser.add_argument("--export-hf-tokenizers", default="", help="write qwen2_5.json / phi3.json to this folder and exit")
    args = parser.parse_args()

    import tokenizers

    def build_qwen():
        import make_goldens  # the oracle builders (need transformers and gguf)
        return make_goldens.from_json_gz(os.path.join(args.vocab_dir, "qwen2.5-tokenizer.json.gz"))[0]

    def build_phi3():
        import make_goldens
        return make_goldens.from_gguf(os.path.join(args.vocab_dir, "phi-3-mini-4k-instruct.vocab.gguf"))[0]

    builders = {"qwen2_5": build_qwen, "phi3": build_phi3}
    if args.export_hf_tokenizers:
        os.makedirs(args.export_hf_tokenizers, exist_ok=True)
        for name, build in builders.items():
            build().save(os.path.join(args.export_hf_tokenizers, name + ".json"))
        return
    if args.hf_tokenizer_dir:
        builders = {name: (lambda n=name: tokenizers.Tokenizer.from_file(os.path.join(args.hf_tokenizer_dir, n + ".json")))
                    for name in builders}

    with tempfile.TemporaryDirectory() as tmp:
        text_path = os.path.join(tmp, "bench_text.txt")
        out = subprocess.run([args.bench, f"--text-out={text_path}", f"--vocab-dir={args.vocab_dir}",
                              "--benchmark_format=json", "--benchmark_repetitions=3",
                              "--benchmark_report_aggregates_only=true"],
                             check=True, capture_output=True, text=True).stdout
        ours = {}
        for b in json.loads(out)["benchmarks"]:
            if b.get("aggregate_name") == "median":
                name = b["run_name"].split("/")[1]
                ours[name] = {"mb_per_s": b["bytes_per_second"] / 1e6, "tokens": int(b["tokens"]),
                              "text_bytes": int(b["text_bytes"])}
        with open(text_path, encoding="utf-8", newline="") as f:  # keep \r\n as written
            text = f.read()

    hf = {}
    size = len(text.encode("utf-8"))
    for name, build in builders.items():
        tok = build()
        tok.encode_special_tokens = True
        times = []
        ids = None
        for _ in range(args.repeats):
            start = time.process_time()
            ids = tok.encode(text, add_special_tokens=False).ids
            times.append(time.process_time() - start)
        median = sorted(times)[len(times) // 2]
        # The same text as many short inputs (one per line, newline kept), the way a server
        # sees it: encode_batch, on one thread.
        lines = text.splitlines(keepends=True)
        line_times = []
        for _ in range(args.repeats):
            start = time.process_time()
            tok.encode_batch(lines, add_special_tokens=False)
            line_times.append(time.process_time() - start)
        line_median = sorted(line_times)[len(line_times) // 2]
        hf[name] = {"mb_per_s": size / median / 1e6, "lines_mb_per_s": size / line_median / 1e6, "tokens": len(ids)}

    rows = []
    print(f"text: {size} bytes; one thread; CPU time; tokenizers {tokenizers.__version__}; {os.cpu_count()} CPUs")
    print(f"{'tokenizer':10} {'ours MB/s':>10} {'HF MB/s':>10} {'ratio':>6} {'HF lines':>9} {'ours ids':>9} {'HF ids':>9}")
    for name in builders:
        o, h = ours[name], hf[name]
        rows.append({"tokenizer": name, "ours_mb_per_s": round(o["mb_per_s"], 2), "hf_mb_per_s": round(h["mb_per_s"], 2),
                     "hf_lines_mb_per_s": round(h["lines_mb_per_s"], 2),
                     "ours_tokens": o["tokens"], "hf_tokens": h["tokens"]})
        print(f"{name:10} {o['mb_per_s']:10.2f} {h['mb_per_s']:10.2f} {o['mb_per_s'] / h['mb_per_s']:6.2f} "
              f"{h['lines_mb_per_s']:9.2f} "
              f"{o['tokens']:9d} {h['tokens']:9d}")
        if o["tokens"] != h["tokens"]:
            print(f"  warning: id counts differ for {name}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"text_bytes": size, "tokenizers_version": tokenizers.__version__, "results": rows}, f, indent=1)


if __name__ == "__main__":
    main()
