#!/usr/bin/env python3
"""CI check of the benchmark dashboard (CTest bench.dashboard.check; standard library only, < 1 s).

  check_dashboard.py HISTORY_JSONL WORK_DIR

1. Generates the dashboard from HISTORY_JSONL (the committed bench/history/records.jsonl) into
   WORK_DIR/dashboard with make_dashboard.py --no-png, then checks index.html against the history
   as read here with json alone (not through the generator's own reader):
   - exactly one chart (<svg class="plot">) per model and figure found in any run, and each
     chart's points, per engine, are that figure's values over the runs in date order;
   - no network resource: no <script>, <link>, <img>, <iframe>, <object> or <embed> element, no
     src/href attribute, no CSS url() or @import, and no "://" anywhere except inside text that
     the history itself holds;
   - the latest run: its card, date, commit and llama.cpp version in the facts table, and for
     every figure a ratio-table row whose cells hold the exact values (data-value), shown
     rounded to what they print (within half a unit of the last digit), the ratio ours / llama.cpp
     and the verdict (higher tok/s, lower seconds and MiB are better).
2. append_history.py on a results file built here: the record holds the given commit and the
   figures as given, a second append of the same run is refused (file unchanged), and a results
   file without figures is an error that leaves the history alone.
Prints "dashboard check ok" and exits 0, or names every failure and exits 1.
"""
import html
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DASHBOARD = os.path.dirname(HERE)
failures = []


def fail(message):
    failures.append(message)


def run(script, *args):
    return subprocess.run([sys.executable, os.path.join(DASHBOARD, script), *args],
                          capture_output=True, text=True, timeout=120)


def read_history(path):
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    return sorted(records, key=lambda r: r["date"])


def attributes(tag_text):
    return {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag_text)}


def shown_number(text):
    """'2,199 ± 0' -> (2199.0, 0 decimals); '0.393' -> (0.393, 3); '0.88x' -> (0.88, 2)."""
    head = text.split("±")[0].strip().rstrip("x").replace(",", "")
    decimals = len(head.split(".")[1]) if "." in head else 0
    return float(head), decimals


def check_shown(where, text, value):
    try:
        shown, decimals = shown_number(text)
    except ValueError:
        fail(f"{where}: cell text {text!r} is not a number")
        return
    if abs(shown - value) > 0.5 * 10 ** -decimals + 1e-9 * abs(value):
        fail(f"{where}: shows {text!r}, the value is {value!r}")


def check_page(records, page):
    latest = records[-1]
    history_strings = set()
    for r in records:
        history_strings.update(html.escape(str(r.get(k, "")), quote=True) for k in ("gpu", "peer_version", "note", "commit"))

    # One chart per (model, figure) of any run, with the right points.
    expected = {(m, f) for r in records for m, model in r["models"].items() for f in model["figures"]}
    svgs = re.findall(r'(<svg class="plot"[^>]*>)(.*?)</svg>', page, re.S)
    seen = []
    for open_tag, body in svgs:
        a = attributes(open_tag)
        key = (a.get("data-model"), a.get("data-figure"))
        seen.append(key)
        for side, name in (("ours", "llama-worker"), ("peer", "llama.cpp")):
            want = [f[side] for r in records
                    for f in [r["models"].get(key[0], {}).get("figures", {}).get(key[1])] if f and f[side] is not None]
            got = [float(attributes(c).get("data-value", "nan"))
                   for c in re.findall(r'<circle class="point"[^>]*>', body) if attributes(c).get("data-series") == name]
            if got != want:
                fail(f"chart {key}: {name} points {got}, history {want}")
    if sorted(seen) != sorted(expected) or len(seen) != len(set(seen)):
        fail(f"charts {sorted(seen)}; expected one each of {sorted(expected)}")

    # No network resource.
    for pattern, what in ((r"<(script|link|img|iframe|object|embed)\b", "a resource element"),
                          (r"\s(src|href|xlink:href)\s*=", "a src/href attribute"),
                          (r"url\(|@import", "a CSS url()/@import")):
        match = re.search(pattern, page, re.I)
        if match:
            fail(f"the page holds {what}: {page[max(0, match.start() - 40):match.end() + 40]!r}")
    stripped = page
    for s in sorted(history_strings, key=len, reverse=True):
        if s:
            stripped = stripped.replace(s, "")
    for match in re.finditer(r"://", stripped):
        fail(f"the page references something by URL: {stripped[max(0, match.start() - 40):match.end() + 40]!r}")

    # The latest run.
    for key, value in (("card", latest["gpu"]), ("date", latest["date"]), ("engine commit", latest["commit"]),
                       ("llama.cpp", latest["peer_version"])):
        if f'<td data-key="{key}">{html.escape(value, quote=True)}</td>' not in page:
            fail(f"the latest run's {key} ({value!r}) is not in the facts table")
    rows = {}
    for open_tag, body in re.findall(r'(<tr data-model="[^"]*" data-figure="[^"]*">)(.*?)</tr>', page, re.S):
        a = attributes(open_tag)
        rows[(a["data-model"], a["data-figure"])] = re.findall(r"<td([^>]*)>([^<]*)</td>", body)
    for model_key, model in latest["models"].items():
        for figure_key, f in model["figures"].items():
            where = f"latest run, {model_key}/{figure_key}"
            cells = rows.get((model_key, figure_key))
            if not cells or len(cells) != 6:
                fail(f"{where}: no ratio-table row of 6 cells")
                continue
            for column, value in ((2, f["ours"]), (3, f["peer"])):
                cell_attrs, text = attributes(cells[column][0]), html.unescape(cells[column][1])
                if value is None:
                    if text != "n/a":
                        fail(f"{where}: missing value shown as {text!r}")
                    continue
                if cell_attrs.get("data-value") is None or float(cell_attrs["data-value"]) != value:
                    fail(f"{where}: data-value {cell_attrs.get('data-value')!r}, the history holds {value!r}")
                check_shown(where, text, value)
            ratio = f["ours"] / f["peer"] if f["ours"] is not None and f["peer"] else None
            ratio_text, verdict = html.unescape(cells[4][1]), cells[5][1]
            if ratio is None:
                if ratio_text != "n/a" or verdict != "n/a":
                    fail(f"{where}: no ratio expected, shows {ratio_text!r} / {verdict!r}")
                continue
            check_shown(where + " ratio", ratio_text, ratio)
            better = ratio > 1 if f["better"] == "higher" else ratio <= 1
            if verdict != ("yes" if better else "no"):
                fail(f"{where}: ratio {ratio:.4f} ({f['better']} is better) but the verdict is {verdict!r}")


def check_append(work):
    history = os.path.join(work, "append-history.jsonl")
    results = os.path.join(work, "append-results.json")
    if os.path.exists(history):
        os.remove(history)
    given = {
        "peer_version": "llama.cpp test build",
        "models": {"tiny": {
            "ours": {"date": "2030-01-02T03:04:05Z", "device": "Test GPU", "model": {"name": "tiny model"}},
            "peer_bench": [{"test_time": "2030-01-02T03:04:09Z", "gpu_info": "Test GPU"}],
            "ours_speed": {"tg128": [123.5, 1.25], "pp512": [4000.0, 10.0]},
            "peer_speed": {"tg128": [100.0, 2.0]},
            "ours_load_seconds": 0.5, "peer_load_seconds": 0.25,
            "ours_vram_smi_mib": 900.0, "peer_vram_smi_mib": None}},
    }
    with open(results, "w", encoding="utf-8") as f:
        json.dump(given, f)
    first = run("append_history.py", results, history, "--commit", "0123456789abcdef")
    if first.returncode != 0:
        fail(f"append_history.py failed: {first.stderr.strip()}")
        return
    with open(history, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if len(lines) != 1:
        fail(f"append_history.py wrote {len(lines)} lines, expected 1")
        return
    record = json.loads(lines[0])
    expect = {"commit": "0123456789abcdef", "date": "2030-01-02T03:04:05Z", "gpu": "Test GPU",
              "peer_version": "llama.cpp test build"}
    for key, value in expect.items():
        if record.get(key) != value:
            fail(f"appended record: {key} is {record.get(key)!r}, expected {value!r}")
    figures = record.get("models", {}).get("tiny", {}).get("figures", {})
    want = {"pp512": (4000.0, 10.0, None, None), "tg128": (123.5, 1.25, 100.0, 2.0),
            "load": (0.5, None, 0.25, None), "vram_4096": (900.0, None, None, None)}
    for key, (ours, ours_stddev, peer, peer_stddev) in want.items():
        f = figures.get(key, {})
        got = (f.get("ours"), f.get("ours_stddev"), f.get("peer"), f.get("peer_stddev"))
        if got != (ours, ours_stddev, peer, peer_stddev):
            fail(f"appended record: {key} is {got}, expected {(ours, ours_stddev, peer, peer_stddev)}")
    if list(figures) != ["pp512", "tg128", "load", "vram_4096"]:
        fail(f"appended record: figure order {list(figures)}")
    again = run("append_history.py", results, history, "--commit", "0123456789abcdef")
    with open(history, encoding="utf-8") as f:
        if again.returncode != 0 or len(f.read().splitlines()) != 1:
            fail("a second append of the same run was not refused")
    with open(results, "w", encoding="utf-8") as f:
        json.dump({"peer_version": "x", "models": {"tiny": {}}}, f)
    empty = run("append_history.py", results, history, "--commit", "0123456789abcdef")
    with open(history, encoding="utf-8") as f:
        if empty.returncode != 1 or "no figure" not in empty.stderr or len(f.read().splitlines()) != 1:
            fail(f"results without figures: exit {empty.returncode}, stderr {empty.stderr.strip()!r}")


def main():
    if len(sys.argv) != 3:
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    history, work = sys.argv[1], sys.argv[2]
    out = os.path.join(work, "dashboard")
    made = run("make_dashboard.py", history, out, "--no-png")
    if made.returncode != 0:
        print(f"FAILED: make_dashboard.py exited with {made.returncode}: {made.stderr.strip()}")
        return 1
    with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
        page = f.read()
    records = read_history(history)
    if not records:
        fail(f"{history} holds no run")
    else:
        check_page(records, page)
    check_append(work)
    for failure in failures:
        print(f"FAILED: {failure}")
    if failures:
        return 1
    charts = len(re.findall(r'<svg class="plot"', page))
    print(f"dashboard check ok: {len(records)} runs, {charts} charts, latest {records[-1]['date']} "
          f"({records[-1]['gpu']}); append round trip ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
