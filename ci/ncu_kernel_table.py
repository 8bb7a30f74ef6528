#!/usr/bin/env python3
"""Sums Nsight Compute's per-launch gpu__time_duration (ncu --csv --metrics gpu__time_duration.sum)
per kernel: launches, total and mean microseconds, share of the window, longest first."""
import csv
import re
import sys
from collections import defaultdict


def short_name(name: str) -> str:
    # "void ns::kernel<A, B>(Params, long)" -> "kernel<A, B>"
    name = re.sub(r"\(.*\)$", "", name.strip())
    name = re.sub(r"^void ", "", name)
    name = re.sub(r"llama_worker::kernels::cuda::(\(anonymous namespace\)::)?", "", name)
    name = re.sub(r"llama_worker::gguf::TensorType::", "", name)
    return name[:90]


def main(path: str) -> None:
    totals = defaultdict(float)
    counts = defaultdict(int)
    with open(path, newline="") as handle:
        lines = [line for line in handle if line.startswith('"')]
    for row in csv.DictReader(lines):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        unit = row.get("Metric Unit", "ns")
        scale = {"ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3}.get(unit, 1e-3)
        name = short_name(row["Kernel Name"])
        totals[name] += value * scale
        counts[name] += 1
    window = sum(totals.values())
    print(f"{sum(counts.values())} kernels, {window:.0f} us in the window")
    print("| kernel | launches | total us | mean us | share |")
    print("|---|---:|---:|---:|---:|")
    for name, total in sorted(totals.items(), key=lambda item: -item[1])[:25]:
        print(f"| {name} | {counts[name]} | {total:.0f} | {total / counts[name]:.1f} | {100 * total / window:.1f}% |")


if __name__ == "__main__":
    main(sys.argv[1])
