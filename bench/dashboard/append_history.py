#!/usr/bin/env python3
"""Append one side-by-side run (ci/gpu-bench.sh's results.json) to the benchmark history (JSONL).

  append_history.py RESULTS_JSON HISTORY_JSONL [--commit SHA] [--date ISO] [--gpu NAME] [--note TEXT]

RESULTS_JSON is what bench/e2e/compare_with_peer.py writes ($OUT/results.json): per model our
`llama-worker bench` record, llama-bench's records and the derived figures. The record appended
(format in history_format.py) keeps, per model, every figure of the comparison table: the
llama-bench speed figures (pp512, tg128, each at depth 0 and at the model's depth; mean and
standard deviation in tok/s), the load time (s) and the peak VRAM at 4,096 context (MiB,
nvidia-smi), ours and llama.cpp's, plus the engine commit, the date, the GPU and llama.cpp's
version.

Where the values come from when not given:
  --commit  `git rev-parse HEAD` of the repository holding this script ("unknown" without git);
            tracked files with local changes add "working tree had local changes" to the note.
  --date    the earliest `date` of our bench records (the run's start), else llama-bench's
            `test_time`, else now.
  --gpu     our bench record's `device`, else llama-bench's `gpu_info`.
A record with the same date, commit and GPU as one already in the file is not appended twice
(exit 0, with a note), so re-running on the same results is harmless. A results file with no
figure at all is an error (exit 1); the history file is then left untouched.
Standard library only: it runs on the GPU machine, which has no extra packages.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree (CI may have it read-only)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from history_format import FORMAT, HistoryError, dumps_record, load_history, validate_record  # noqa: E402

LOAD_LABEL = "load, page cache -> ready"
VRAM_LABEL = "peak VRAM at 4,096 ctx (nvidia-smi)"


def speed_order(key):
    """compare_with_peer.py's table order: per depth, pp before tg."""
    return (" @ " in key, not key.startswith("pp"), key)


def pair(value):
    """results.json keeps a speed figure as [mean, stddev]; anything else reads as missing."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return float(value[0]), float(value[1])
    return None, None


def number(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def model_entry(entry):
    ours = entry.get("ours") or {}
    model = ours.get("model") or {}
    peer_records = entry.get("peer_bench") or []
    peer_first = peer_records[0] if peer_records and isinstance(peer_records[0], dict) else {}
    figures = {}
    ours_speed = entry.get("ours_speed") or {}
    peer_speed = entry.get("peer_speed") or {}
    for key in sorted(set(ours_speed) | set(peer_speed), key=speed_order):
        ours_mean, ours_stddev = pair(ours_speed.get(key))
        peer_mean, peer_stddev = pair(peer_speed.get(key))
        figures[key] = {"label": key, "unit": "tok/s", "better": "higher",
                        "ours": ours_mean, "ours_stddev": ours_stddev,
                        "peer": peer_mean, "peer_stddev": peer_stddev}
    figures["load"] = {"label": LOAD_LABEL, "unit": "s", "better": "lower",
                       "ours": number(entry.get("ours_load_seconds")), "ours_stddev": None,
                       "peer": number(entry.get("peer_load_seconds")), "peer_stddev": None}
    figures["vram_4096"] = {"label": VRAM_LABEL, "unit": "MiB", "better": "lower",
                            "ours": number(entry.get("ours_vram_smi_mib")), "ours_stddev": None,
                            "peer": number(entry.get("peer_vram_smi_mib")), "peer_stddev": None}
    return {
        "name": model.get("name") or peer_first.get("model_type") or "unknown",
        "architecture": model.get("architecture") or "unknown",
        "file_type": model.get("file_type") or "unknown",
        "file_bytes": model.get("file_bytes"),
        "figures": figures,
    }


def git_commit():
    """(sha, dirty) of the repository holding this script, or ("unknown", False)."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        sha = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=20, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
    return (sha or "unknown"), bool(status.strip())


def run_date(results):
    dates = []
    for entry in results.get("models", {}).values():
        ours = (entry or {}).get("ours") or {}
        if isinstance(ours.get("date"), str):
            dates.append(ours["date"])
        for peer in (entry or {}).get("peer_bench") or []:
            if isinstance(peer, dict) and isinstance(peer.get("test_time"), str):
                dates.append(peer["test_time"])
    if dates:
        return min(dates)
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_gpu(results):
    for entry in results.get("models", {}).values():
        ours = (entry or {}).get("ours") or {}
        if isinstance(ours.get("device"), str) and ours["device"]:
            return ours["device"]
    for entry in results.get("models", {}).values():
        for peer in (entry or {}).get("peer_bench") or []:
            if isinstance(peer, dict) and isinstance(peer.get("gpu_info"), str) and peer["gpu_info"]:
                return peer["gpu_info"]
    return "unknown"


def build_record(results, commit, date, gpu, note):
    models = {key: model_entry(entry or {}) for key, entry in (results.get("models") or {}).items()}
    return {
        "format": FORMAT,
        "date": date,
        "commit": commit,
        "note": note,
        "gpu": gpu,
        "peer_version": results.get("peer_version") or "unknown",
        "models": models,
    }


def has_any_value(record):
    return any(figure[side] is not None
               for model in record["models"].values()
               for figure in model["figures"].values()
               for side in ("ours", "peer"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results.json of ci/gpu-bench.sh (bench/e2e/compare_with_peer.py)")
    parser.add_argument("history", help="history file (JSONL) to append to; created when missing")
    parser.add_argument("--commit", help="engine commit the binary was built from (default: git rev-parse HEAD)")
    parser.add_argument("--date", help="run date, ISO 8601 UTC (default: from the bench records)")
    parser.add_argument("--gpu", help="GPU name (default: from the bench records)")
    parser.add_argument("--note", default="", help="free text kept with the record")
    args = parser.parse_args()

    try:
        with open(args.results, encoding="utf-8") as f:
            results = json.load(f)
    except (OSError, ValueError) as error:
        print(f"error: {args.results}: cannot read the results: {error}", file=sys.stderr)
        return 1
    if not isinstance(results, dict) or not isinstance(results.get("models"), dict):
        print(f"error: {args.results}: no 'models' object (not a compare_with_peer.py results file?)", file=sys.stderr)
        return 1

    note = args.note
    commit = args.commit
    if not commit:
        commit, dirty = git_commit()
        if dirty:
            note = (note + "; " if note else "") + "working tree had local changes"
    record = build_record(results, commit, args.date or run_date(results), args.gpu or run_gpu(results), note)
    if not record["models"] or not has_any_value(record):
        print(f"error: {args.results}: no figure in the results (every step failed?): nothing appended",
              file=sys.stderr)
        return 1
    try:
        validate_record(record, args.results)
        existing = load_history(args.history) if os.path.exists(args.history) else []
    except HistoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for old in existing:
        if (old["date"], old["commit"], old["gpu"]) == (record["date"], record["commit"], record["gpu"]):
            print(f"note: {args.history} already holds the run of {record['date']} (commit {record['commit'][:12]}, "
                  f"{record['gpu']}): not appended again")
            return 0

    try:
        directory = os.path.dirname(os.path.abspath(args.history))
        os.makedirs(directory, exist_ok=True)
        needs_newline = False
        if os.path.exists(args.history) and os.path.getsize(args.history) > 0:
            with open(args.history, "rb") as f:
                f.seek(-1, os.SEEK_END)
                needs_newline = f.read(1) != b"\n"
        with open(args.history, "a", encoding="utf-8") as f:
            f.write(("\n" if needs_newline else "") + dumps_record(record) + "\n")
    except OSError as error:
        print(f"error: {args.history}: cannot append: {error}", file=sys.stderr)
        return 1
    figures = sum(len(model["figures"]) for model in record["models"].values())
    print(f"appended the run of {record['date']} (commit {record['commit'][:12]}, {record['gpu']}, "
          f"{len(record['models'])} model(s), {figures} figures) to {args.history}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
