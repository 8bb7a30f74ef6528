#!/usr/bin/env python3
"""One line per benchmark of a Google Benchmark JSON file with an argument (e.g.
fragment_mma_bench's columns): `name  arg:us_per_launch/fraction_of_copy ...`, for the short
table at the end of a device call."""
import json
import sys


def main(path):
    with open(path) as f:
        runs = json.load(f).get("benchmarks", [])
    rows = {}
    for run in runs:
        name, _, arg = run["name"].rpartition("/")
        rows.setdefault(name, []).append(
            "%s:%.1fus/%.2f" % (arg.split(":")[-1], run.get("us_per_launch", 0.0), run.get("fraction_of_copy", 0.0)))
    for name in sorted(rows):
        print(name, " ".join(rows[name]))


if __name__ == "__main__":
    main(sys.argv[1])
