#!/usr/bin/env python3
"""One line per benchmark of a Google Benchmark JSON file with an argument (e.g.
fragment_mma_bench's columns): `name  arg:us_per_launch/fraction_of_copy ...` (us per launch:
real_time over the `launches` counter), for the short table at the end of a device call."""
import json
import sys


def main(path):
    with open(path) as f:
        runs = json.load(f).get("benchmarks", [])
    rows = {}
    for run in runs:
        parts = [p for p in run["name"].split("/") if p != "manual_time"]
        name, arg = "/".join(parts[:-1]), parts[-1].split(":")[-1]
        microseconds = run["real_time"] / run.get("launches", 1.0)
        rows.setdefault(name, []).append("%s:%.1fus/%.2f" % (arg, microseconds, run.get("fraction_of_copy", 0.0)))
    for name in sorted(rows):
        print(name, " ".join(rows[name]))


if __name__ == "__main__":
    main(sys.argv[1])
