#!/usr/bin/env python3
"""Per-module coverage table and CI gate from gcovr's JSON summary (ci/coverage-report.sh).

A module is a file's first two path components (engine/gguf, kernels/cpu, ...). Prints a
Markdown table (module, lines, branches) and the total, then fails (exit 1) when the total is
under --min-lines / --min-branches or a module is under --module-min-lines, naming each one.
Exit 2 on a bad argument or an unreadable summary.
"""

import argparse
import json
import sys
from collections import OrderedDict


def percent(covered, total):
    return 100.0 * covered / total if total else 100.0


def module_of(filename):
    parts = filename.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def summarize(files):
    modules = OrderedDict()
    for entry in sorted(files, key=lambda e: e["filename"]):
        counts = modules.setdefault(module_of(entry["filename"]), [0, 0, 0, 0])
        counts[0] += entry["line_covered"]
        counts[1] += entry["line_total"]
        counts[2] += entry["branch_covered"]
        counts[3] += entry["branch_total"]
    return modules


def cell(covered, total):
    return f"{percent(covered, total):.1f}% ({covered:,} / {total:,})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", help="gcovr --json-summary output")
    parser.add_argument("--min-lines", type=float, default=0.0, help="total line coverage floor (%%)")
    parser.add_argument("--min-branches", type=float, default=0.0, help="total branch coverage floor (%%)")
    parser.add_argument("--module-min-lines", type=float, default=0.0, help="per-module line coverage floor (%%)")
    parser.add_argument("--files-under", type=float, default=None,
                        help="also list the files under this line coverage (%%)")
    args = parser.parse_args()

    try:
        with open(args.summary, encoding="utf-8") as stream:
            files = json.load(stream)["files"]
    except (OSError, ValueError, KeyError) as error:
        print(f"error: cannot read gcovr summary {args.summary}: {error}", file=sys.stderr)
        return 2
    if not files:
        print(f"error: {args.summary} covers no file (were the tests run on a coverage build?)", file=sys.stderr)
        return 2

    modules = summarize(files)
    totals = [sum(counts[i] for counts in modules.values()) for i in range(4)]

    print("| module | lines | branches |")
    print("|---|---:|---:|")
    for name, counts in modules.items():
        print(f"| `{name}/` | {cell(counts[0], counts[1])} | {cell(counts[2], counts[3])} |")
    print(f"| **total** | **{cell(totals[0], totals[1])}** | **{cell(totals[2], totals[3])}** |")

    if args.files_under is not None:
        print(f"\nFiles under {args.files_under:.0f}% of lines:")
        for entry in sorted(files, key=lambda e: percent(e["line_covered"], e["line_total"])):
            line_percent = percent(entry["line_covered"], entry["line_total"])
            if line_percent < args.files_under:
                print(f"  {line_percent:5.1f}%  {entry['filename']} "
                      f"({entry['line_total'] - entry['line_covered']} lines not run)")

    failures = []
    if percent(totals[0], totals[1]) < args.min_lines:
        failures.append(f"total line coverage {percent(totals[0], totals[1]):.1f}% < {args.min_lines:g}%")
    if percent(totals[2], totals[3]) < args.min_branches:
        failures.append(f"total branch coverage {percent(totals[2], totals[3]):.1f}% < {args.min_branches:g}%")
    for name, counts in modules.items():
        if percent(counts[0], counts[1]) < args.module_min_lines:
            failures.append(f"{name}/ line coverage {percent(counts[0], counts[1]):.1f}% "
                            f"< {args.module_min_lines:g}%")
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
