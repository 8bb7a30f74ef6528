#!/usr/bin/env python3
"""The benchmark dashboard: history (JSONL) -> a static HTML page and a PNG.

  make_dashboard.py HISTORY_JSONL OUT_DIR [--no-png] [--title TEXT]

Writes OUT_DIR/index.html: one self-contained page (inline CSS, inline SVG charts drawn here by
svg_plot.py, no script, no network resource), with
  - the latest run: card, date, engine commit, llama.cpp version, and the ratio table (figure,
    llama-worker, llama.cpp, ratio ours / llama.cpp, whether ours is better: higher tok/s, lower
    load time and VRAM), the same table ci/gpu-bench.sh prints;
  - one chart per model and figure (tok/s, load seconds, VRAM MiB) over every run of the
    history, llama-worker against llama.cpp, with standard-deviation bars;
  - the list of runs (date, commit, card, llama.cpp version, note).
and OUT_DIR/dashboard.png, the same charts drawn by matplotlib when it is installed (when not,
a note says so and only the HTML is written; --no-png skips it on purpose).
Numbers in the tables carry their exact value in a data-value attribute (what the CI check
reads); every chart carries data-model and data-figure. The page holds no generation time, so
the same history gives the same bytes. Exit status: 0 written, 1 unusable history or output
folder (the message names the file and line), 2 bad arguments.
A nightly job can publish OUT_DIR as it is.
"""
import argparse
import html
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree (CI may have it read-only)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from history_format import HistoryError, load_history  # noqa: E402
from svg_plot import Series, line_chart  # noqa: E402

OURS_COLOR, PEER_COLOR = "#1f6fb4", "#d0452f"
OURS_NAME, PEER_NAME = "llama-worker", "llama.cpp"


def esc(text):
    return html.escape(str(text), quote=True)


def short_commit(commit):
    return commit[:9] if len(commit) >= 12 and all(c in "0123456789abcdef" for c in commit.lower()) else commit


def short_date(date):
    """'2026-11-27T00:07:34Z' -> '11-27 00:07' (the x labels)."""
    if len(date) >= 16 and date[10] == "T":
        return f"{date[5:10]} {date[11:16]}"
    return date


def format_value(value, unit):
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value:,.3f}"
    if unit == "tok/s" and value < 100:
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def format_with_stddev(value, stddev, unit, with_unit=True):
    """'775 ± 3 tok/s': the deviation with the mean's decimals (compare_with_peer.py's layout)."""
    if value is None:
        return "n/a"
    text = format_value(value, unit)
    if stddev is not None:
        decimals = len(text.split(".")[1]) if "." in text else 0
        text += f" ± {stddev:,.{decimals}f}"
    return text + (f" {unit}" if with_unit else "")


def ordered_keys(records, get_keys):
    """Keys in the latest record's order first, then those only older records have (newest first)."""
    keys = []
    for record in reversed(records):
        for key in get_keys(record):
            if key not in keys:
                keys.append(key)
    return keys


def figure_of(record, model, figure):
    return record["models"].get(model, {}).get("figures", {}).get(figure)


def chart_list(records):
    """[(model, figure, label, unit, better)] for every figure any run has, latest run's order first."""
    charts = []
    for model in ordered_keys(records, lambda r: r["models"].keys()):
        figures = ordered_keys(records, lambda r: r["models"].get(model, {}).get("figures", {}).keys())
        for figure in figures:
            latest = next(figure_of(r, model, figure) for r in reversed(records) if figure_of(r, model, figure))
            charts.append((model, figure, latest["label"], latest["unit"], latest["better"]))
    return charts


def chart_svg(records, model, figure, label, unit, better):
    run_labels = [(short_date(r["date"]), short_commit(r["commit"])) for r in records]
    series = []
    for side, name, color, dashed in (("ours", OURS_NAME, OURS_COLOR, False), ("peer", PEER_NAME, PEER_COLOR, True)):
        values, tooltips = [], []
        for r in records:
            f = figure_of(r, model, figure) or {}
            values.append((f.get(side), f.get(side + "_stddev")))
            tooltips.append(f"{name}: {format_with_stddev(f.get(side), f.get(side + '_stddev'), unit)}, "
                            f"{r['date']}, commit {short_commit(r['commit'])}, {r['gpu']}")
        series.append(Series(name, color, dashed, values, tooltips))
    return line_chart(f"{model}: {label}", f"{unit}, {better} is better", unit, run_labels, series,
                      {"model": model, "figure": figure})


def ratio_rows(record):
    rows = []
    for model_key, model in record["models"].items():
        for figure_key, f in model["figures"].items():
            ours, peer = f.get("ours"), f.get("peer")
            ratio = ours / peer if ours is not None and peer else None
            better = None
            if ratio is not None:
                better = ratio > 1 if f["better"] == "higher" else ratio <= 1
            rows.append((model_key, figure_key, f, ratio, better))
    return rows


def value_cell(value, text):
    data = f' data-value="{value!r}"' if value is not None else ""
    return f"<td class=\"num\"{data}>{esc(text)}</td>"


def latest_section(record):
    out = ["<section id=\"latest\">", "<h2>Latest run</h2>", "<table class=\"facts\">"]
    for key, value in (("card", record["gpu"]), ("date", record["date"]), ("engine commit", record["commit"]),
                       ("llama.cpp", record["peer_version"])):
        out.append(f"<tr><th>{esc(key)}</th><td data-key=\"{esc(key)}\">{esc(value)}</td></tr>")
    if record.get("note"):
        out.append(f"<tr><th>note</th><td>{esc(record['note'])}</td></tr>")
    out.append("</table>")
    out.append("<table class=\"ratios\"><thead><tr><th>model</th><th>figure</th><th>llama-worker</th>"
               "<th>llama.cpp</th><th>ratio</th><th>better</th></tr></thead><tbody>")
    for model_key, figure_key, f, ratio, better in ratio_rows(record):
        unit = f["unit"]
        verdict = "n/a" if better is None else ("yes" if better else "no")
        out.append(f"<tr data-model=\"{esc(model_key)}\" data-figure=\"{esc(figure_key)}\">"
                   f"<td>{esc(model_key)}</td><td>{esc(f['label'])} ({esc(unit)})</td>"
                   + value_cell(f.get("ours"), format_with_stddev(f.get("ours"), f.get("ours_stddev"), unit, False))
                   + value_cell(f.get("peer"), format_with_stddev(f.get("peer"), f.get("peer_stddev"), unit, False))
                   + value_cell(ratio, "n/a" if ratio is None else f"{ratio:.2f}x")
                   + f"<td class=\"{verdict}\">{verdict}</td></tr>")
    out.append("</tbody></table>")
    out.append("<p class=\"small\">ratio = llama-worker / llama.cpp; better: higher tok/s, lower load time and VRAM.</p>")
    out.append("</section>")
    return out


def runs_section(records):
    out = ["<section id=\"runs\">", f"<h2>Runs ({len(records)})</h2>",
           "<table class=\"runs\"><thead><tr><th>date</th><th>engine commit</th><th>card</th><th>llama.cpp</th>"
           "<th>note</th></tr></thead><tbody>"]
    for r in reversed(records):
        out.append(f"<tr><td class=\"nowrap\">{esc(r['date'])}</td><td title=\"{esc(r['commit'])}\">{esc(short_commit(r['commit']))}</td>"
                   f"<td>{esc(r['gpu'])}</td><td>{esc(r['peer_version'])}</td><td>{esc(r.get('note', ''))}</td></tr>")
    out.append("</tbody></table></section>")
    return out


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.yes { color: #17702e; font-weight: bold; } td.no { color: #b3261e; font-weight: bold; }
table.facts { margin-bottom: 14px; } table.facts th { background: #f4f4f4; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.charts svg { border: 1px solid #ddd; font-family: system-ui, sans-serif; }
.small { font-size: 12px; color: #555; } .nowrap { white-space: nowrap; }
"""


def html_page(records, history_name, title):
    latest = records[-1]
    out = ["<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
           f"<title>{esc(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
           f"<h1>{esc(title)}</h1>",
           f"<p class=\"small\">{len(records)} side-by-side run(s) from <code>{esc(history_name)}</code>, "
           "drawn by <code>bench/dashboard/make_dashboard.py</code>. Figures as in llama-bench "
           "(pp512: 512-token prompt, tg128: 128 generated tokens, @ dN: at KV depth N; mean ± standard "
           "deviation); load: page cache to ready; VRAM: nvidia-smi peak at 4,096 context.</p>"]
    out += latest_section(latest)
    charts = chart_list(records)
    current_model = None
    out.append("<section id=\"charts\"><h2>Over the runs</h2>")
    for model, figure, label, unit, better in charts:
        if model != current_model:
            if current_model is not None:
                out.append("</div>")
            name = next((r["models"][model].get("name") for r in reversed(records) if model in r["models"]), model)
            out.append(f"<h3>{esc(model)} <span class=\"small\">({esc(name)})</span></h3><div class=\"charts\">")
            current_model = model
        out.append(chart_svg(records, model, figure, label, unit, better))
    if current_model is not None:
        out.append("</div>")
    out.append("</section>")
    out += runs_section(records)
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def write_png(records, path, title):
    """The charts with matplotlib (Agg). Returns None when written, else the reason it was not."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed for this python3 (ci/setup.sh installs Debian's python3-matplotlib)"
    charts = chart_list(records)
    models = ordered_keys(records, lambda r: r["models"].keys())
    columns = max(sum(1 for c in charts if c[0] == m) for m in models)
    figure, axes = plt.subplots(len(models), columns, figsize=(3.4 * columns, 2.9 * len(models) + 0.8),
                                squeeze=False)
    xs = list(range(len(records)))
    labels = [f"{short_date(r['date'])}\n{short_commit(r['commit'])}" for r in records]
    for row, model in enumerate(models):
        model_charts = [c for c in charts if c[0] == model]
        for column in range(columns):
            ax = axes[row][column]
            if column >= len(model_charts):
                ax.axis("off")
                continue
            _, key, label, unit, better = model_charts[column]
            top = 0.0
            for side, name, color, style in (("ours", OURS_NAME, OURS_COLOR, "-"), ("peer", PEER_NAME, PEER_COLOR, "--")):
                values = [(figure_of(r, model, key) or {}).get(side) for r in records]
                errors = [(figure_of(r, model, key) or {}).get(side + "_stddev") or 0.0 for r in records]
                ys = [float("nan") if v is None else v for v in values]
                top = max([top] + [v + e for v, e in zip(values, errors) if v is not None])
                ax.errorbar(xs, ys, yerr=errors, color=color, linestyle=style, marker="o", markersize=4,
                            capsize=2, linewidth=1.5, label=name)
            ax.set_title(f"{model}: {label}\n({unit}, {better} is better)", fontsize=8)
            ax.set_ylim(0, top * 1.12 if top > 0 else 1.0)
            ax.set_xlim(-0.4, len(records) - 0.6)
            ax.set_xticks(xs)
            ax.set_xticklabels(labels, fontsize=6)
            ax.tick_params(axis="y", labelsize=7)
            ax.grid(True, color="#e3e3e3")
            if row == 0 and column == 0:
                ax.legend(fontsize=7)
    latest = records[-1]
    figure.suptitle(f"{title} - latest: {latest['date']}, {latest['gpu']}, commit {short_commit(latest['commit'])}, "
                    f"{latest['peer_version']}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("history", help="history file (JSONL) written by append_history.py")
    parser.add_argument("out_dir", help="folder that receives index.html and dashboard.png")
    parser.add_argument("--no-png", action="store_true", help="write the HTML only (no matplotlib import)")
    parser.add_argument("--title", default="llama-worker vs llama.cpp: side-by-side benchmark")
    args = parser.parse_args()

    try:
        records = load_history(args.history)
    except HistoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not records:
        print(f"error: {args.history}: no run recorded", file=sys.stderr)
        return 1
    records.sort(key=lambda r: r["date"])  # stable: same-date runs keep their file order

    index = os.path.join(args.out_dir, "index.html")
    try:
        os.makedirs(args.out_dir, exist_ok=True)
        with open(index, "w", encoding="utf-8") as f:
            f.write(html_page(records, os.path.basename(args.history), args.title))
    except OSError as error:
        print(f"error: {index}: cannot write: {error}", file=sys.stderr)
        return 1
    print(f"wrote {index} ({len(records)} runs, {len(chart_list(records))} charts)")
    if args.no_png:
        return 0
    png = os.path.join(args.out_dir, "dashboard.png")
    reason = write_png(records, png, args.title)
    if reason:
        print(f"note: {reason}: {png} not written; {index} is complete without it")
    else:
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
