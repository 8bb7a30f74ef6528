#!/usr/bin/env python3
"""A bench/history record (bench/dashboard/history_format.py) from one ci/gpu-check-batched.sh call.

Reads, from the call's $OUT folder: machine.txt (the GPU), ours-parallel-<model>.json
(`llama-worker bench --parallel`), ours-single-<model>.json (our tg128 on the one-inference path)
and peer-parallel-<model>.log (llama-batched-bench's table). Prints one JSON line; append it to
bench/history/records.jsonl only for a call that ran the peer. Usage:
  ci/batched_history.py OUT_DIR --date 2026-12-06T16:20:00Z --commit abc1234 [--note TEXT]
"""
import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "bench" / "dashboard"))
import history_format  # noqa: E402

MODELS = {"qwen": "Qwen2.5-0.5B-Instruct (vocab only)", "phi3": "Phi-3-mini-4k-instruct (vocab only)"}


def peer_rows(path):
    """llama-batched-bench's markdown rows: streams -> S_TG t/s."""
    rows = {}
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 8 and cells[2].isdigit():
            rows[int(cells[2])] = float(cells[7])
    return rows


def figure(label, ours, peer):
    return {"label": label, "unit": "tok/s", "better": "higher", "ours": ours, "ours_stddev": None,
            "peer": peer, "peer_stddev": None}


def model_entry(out, model):
    ours_file = out / f"ours-parallel-{model}.json"
    if not ours_file.exists():
        return None
    ours = json.loads(ours_file.read_text())
    peer = peer_rows(out / f"peer-parallel-{model}.log")
    figures = {}
    for row in ours["parallel"]:
        streams = row["pl"]
        figures[f"S_TG x{streams}"] = figure(f"aggregate decode, {streams} streams (pp128 tg128)",
                                             round(row["speed_tg"], 2), peer.get(streams))
    single_file = out / f"ours-single-{model}.json"
    if single_file.exists():
        tests = [t for t in json.loads(single_file.read_text())["tests"] if t["name"] == "tg128"]
        if tests:
            figures["tg128 one-inference path"] = figure("tg128, single-inference path",
                                                         round(tests[0]["avg_ts"], 2), peer.get(1))
    return {"name": MODELS.get(model, model), "architecture": ours["model"]["architecture"],
            "file_type": ours["model"]["file_type"], "file_bytes": ours["model"]["file_bytes"],
            "figures": figures}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--date", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--note", default="")
    parser.add_argument("--peer-version", default="llama.cpp 0c1e570 llama-batched-bench -npp 128 -ntg 128 "
                        "-npl 1,4,16,64 -fa on -ngl 99")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    try:
        gpu = (out / "machine.txt").read_text().split(",")[0].strip()
        models = {m: e for m in MODELS if (e := model_entry(out, m)) is not None}
        record = {"format": history_format.FORMAT, "date": args.date, "commit": args.commit, "note": args.note,
                  "gpu": gpu, "peer_version": args.peer_version, "models": models}
        history_format.validate_record(record, str(out))
    except (OSError, ValueError, KeyError, history_format.HistoryError) as error:
        print(f"error: {out}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
