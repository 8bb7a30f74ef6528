#!/usr/bin/env python3
"""Side-by-side table: llama-worker bench vs llama.cpp (llama-bench, llama-completion).

Reads the files ci/gpu-bench.sh leaves in its log folder, for each model name M:
  ours-M.json              `llama-worker bench --json-out` (speed run, llama-bench's context)
  ours-vram-M.json         `llama-worker bench --ctx 4096 --json-out` (memory run)
  peer-bench-M.out         `llama-bench -o json` stdout
  peer-completion-M.err    `llama-completion -c 4096` stderr (llama.cpp's "load time")
  smi-ours-vram-M.txt, smi-peer-completion-M.txt   nvidia-smi memory.used samples (MiB), one per line
Prints a markdown table (figure, ours, llama.cpp, ratio ours / llama.cpp, better) and writes
results.json with every figure. Missing inputs show as "n/a"; nothing here fails the run.
Standard library only (the GPU machine has no extra packages for this).
"""
import argparse
import json
import os
import re
import sys


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_peer_bench(path):
    """llama-bench -o json prints one JSON array on stdout (log lines go to stderr)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    start = text.find("[")
    if start < 0:
        return None
    try:
        return json.loads(text[start:])
    except ValueError:
        return None


def smi_peak(path):
    try:
        with open(path, encoding="utf-8") as f:
            values = [float(v) for v in re.findall(r"^\s*(\d+(?:\.\d+)?)\s*$", f.read(), re.M)]
    except OSError:
        return None
    return max(values) if values else None


def peer_load_seconds(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    match = re.findall(r"load time\s*=\s*([0-9.]+)\s*ms", text)
    return float(match[-1]) / 1000.0 if match else None


def test_key(n_prompt, n_gen, n_depth):
    name = f"pp{n_prompt}" if n_prompt > 0 else f"tg{n_gen}"
    return name + (f" @ d{n_depth}" if n_depth > 0 else "")


def speed_figures(records, ours):
    figures = {}
    for r in records or []:
        key = test_key(int(r.get("n_prompt", 0)), int(r.get("n_gen", 0)), int(r.get("n_depth", 0)))
        figures[key] = (float(r["avg_ts"]), float(r.get("stddev_ts", 0.0)))
    return figures


def fmt_rate(value):
    if value is None:
        return "n/a"
    digits = 0 if value[0] >= 100 else 2
    return f"{value[0]:,.{digits}f} ± {value[1]:,.{digits}f}"


def fmt(value, unit):
    if value is None:
        return "n/a"
    return f"{value:,.3f} {unit}" if unit == "s" else f"{value:,.0f} {unit}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", required=True, help="folder with the files named above")
    parser.add_argument("--models", required=True, help="comma list of model names (qwen,phi3)")
    parser.add_argument("--peer-version", default="unknown", help="llama.cpp version line")
    parser.add_argument("--json-out", help="write every figure here")
    args = parser.parse_args()

    rows = []  # (model, figure, ours text, peer text, ratio, better)
    results = {"peer_version": args.peer_version, "models": {}}
    for model in [m for m in args.models.split(",") if m]:
        path = lambda name: os.path.join(args.logs, name)  # noqa: E731
        ours = load_json(path(f"ours-{model}.json"))
        ours_vram = load_json(path(f"ours-vram-{model}.json"))
        peer = load_peer_bench(path(f"peer-bench-{model}.out"))
        ours_speed = speed_figures(ours["tests"] if ours else [], True)
        peer_speed = speed_figures(peer, False)
        entry = {"ours": ours, "ours_vram_run": ours_vram, "peer_bench": peer}

        for key in sorted(set(ours_speed) | set(peer_speed), key=lambda k: (" @ " in k, not k.startswith("pp"), k)):
            o, p = ours_speed.get(key), peer_speed.get(key)
            ratio = o[0] / p[0] if o and p and p[0] > 0 else None
            rows.append((model, key + " (tok/s)", fmt_rate(o), fmt_rate(p), ratio, ratio is not None and ratio > 1))

        # Load: ours = file open -> ready to decode (load_seconds), CUDA context creation not
        # included. llama.cpp's "load time" starts later still: its timer (llama_model_load in
        # src/llama.cpp, "time_meas tm(model->t_load_us)") starts after llama_prepare_model_devices,
        # whose ggml_backend_dev_get_props -> cudaMemGetInfo creates the CUDA context, and after the
        # GGUF metadata is read; it ends after the first evaluation (llama-context.cpp, "get a more
        # accurate load time, upon first eval"). Ours includes reading the metadata.
        ours_load = None
        if ours:
            ours_load = float(ours.get("load_seconds", 0))
        peer_load = peer_load_seconds(path(f"peer-completion-{model}.err"))
        ratio = ours_load / peer_load if ours_load and peer_load else None
        rows.append((model, "load (s, page cache -> ready)", fmt(ours_load, "s"), fmt(peer_load, "s"), ratio,
                     ratio is not None and ratio <= 1))

        ours_smi = smi_peak(path(f"smi-ours-vram-{model}.txt"))
        peer_smi = smi_peak(path(f"smi-peer-completion-{model}.txt"))
        ratio = ours_smi / peer_smi if ours_smi and peer_smi else None
        rows.append((model, "peak VRAM at 4,096 ctx (MiB, nvidia-smi)", fmt(ours_smi, "MiB"), fmt(peer_smi, "MiB"), ratio,
                     ratio is not None and ratio <= 1))
        if ours_vram and ours_vram.get("peak_memory_bytes") is not None:
            entry["ours_vram_cudamemgetinfo_mib"] = ours_vram["peak_memory_bytes"] / 1048576.0
        entry.update({"ours_load_seconds": ours_load, "peer_load_seconds": peer_load,
                      "ours_vram_smi_mib": ours_smi, "peer_vram_smi_mib": peer_smi,
                      "ours_speed": ours_speed, "peer_speed": peer_speed})
        results["models"][model] = entry

    print(f"llama.cpp: {args.peer_version}")
    print()
    print("| model | figure | llama-worker | llama.cpp | ratio | better |")
    print("|---|---|---:|---:|---:|---|")
    for model, figure, o, p, ratio, better in rows:
        ratio_text = "n/a" if ratio is None else f"{ratio:.2f}x"
        verdict = "n/a" if ratio is None else ("yes" if better else "no")
        print(f"| {model} | {figure} | {o} | {p} | {ratio_text} | {verdict} |")
    print()
    print("ratio = llama-worker / llama.cpp; better: higher tok/s, lower load time and VRAM.")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
