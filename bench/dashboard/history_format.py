"""The benchmark history file: one JSON record per side-by-side run, one record per line (JSONL).

Written by append_history.py, read by make_dashboard.py. Standard library only.

A record (format "llama-worker-bench-history/1"):
  {
    "format": "llama-worker-bench-history/1",
    "date": "2026-11-27T00:07:34Z",          # when the run started (UTC, ISO 8601)
    "commit": "f9b82b1f89...",               # engine commit the binary was built from ("unknown" if not known)
    "note": "",                              # free text (e.g. "tree of X plus uncommitted kernels")
    "gpu": "NVIDIA H100 80GB HBM3",
    "peer_version": "llama.cpp commit 0c1e57098 ...",
    "models": {                              # model key -> model entry, in run order
      "qwen": {
        "name": "Qwen2.5-0.5B-Instruct (vocab only)", "architecture": "qwen2",
        "file_type": "Q4_K - Medium", "file_bytes": 397805248,
        "figures": {                         # figure key -> figure, in table order
          "tg128": {"label": "tg128", "unit": "tok/s", "better": "higher",
                    "ours": 775.24, "ours_stddev": 2.84, "peer": 878.59, "peer_stddev": 12.29},
          "load":  {"label": "load, page cache -> ready", "unit": "s", "better": "lower",
                    "ours": 0.393, "ours_stddev": null, "peer": 0.267, "peer_stddev": null},
          ...
        }
      }
    }
  }
Invariants: every value is a finite number or null (a figure one engine did not produce);
"better" is "higher" or "lower"; figure keys are unique per model. Records are kept in the
order they were appended; readers sort by date.
"""
import json
import math

FORMAT = "llama-worker-bench-history/1"


class HistoryError(Exception):
    """A history file that cannot be used; the message names the file and line."""


def _check_number(value, where):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HistoryError(f"{where}: expected a finite number or null, got {value!r}")


def validate_record(record, where):
    """Raises HistoryError naming `where` (file:line) and the field when the record is malformed."""
    if not isinstance(record, dict):
        raise HistoryError(f"{where}: a record must be a JSON object")
    if record.get("format") != FORMAT:
        raise HistoryError(f"{where}: format is {record.get('format')!r}, expected {FORMAT!r}")
    for key in ("date", "commit", "gpu", "peer_version"):
        if not isinstance(record.get(key), str) or not record[key]:
            raise HistoryError(f"{where}: '{key}' must be a non-empty string")
    models = record.get("models")
    if not isinstance(models, dict) or not models:
        raise HistoryError(f"{where}: 'models' must be a non-empty object")
    for model_key, model in models.items():
        if not isinstance(model, dict) or not isinstance(model.get("figures"), dict):
            raise HistoryError(f"{where}: model '{model_key}' has no 'figures' object")
        for figure_key, figure in model["figures"].items():
            at = f"{where}: {model_key}/{figure_key}"
            if not isinstance(figure, dict):
                raise HistoryError(f"{at}: a figure must be an object")
            if figure.get("better") not in ("higher", "lower"):
                raise HistoryError(f"{at}: 'better' must be 'higher' or 'lower'")
            if not isinstance(figure.get("unit"), str) or not isinstance(figure.get("label"), str):
                raise HistoryError(f"{at}: 'unit' and 'label' must be strings")
            for value_key in ("ours", "ours_stddev", "peer", "peer_stddev"):
                _check_number(figure.get(value_key), f"{at}.{value_key}")


def load_history(path):
    """Every record of the JSONL file at `path`, validated, in file order. Blank lines are skipped.

    Raises HistoryError (OSError included) naming the file and line of the first bad record.
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as error:
        raise HistoryError(f"{path}: cannot read: {error.strerror or error}") from error
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError as error:
            raise HistoryError(f"{where}: not valid JSON ({error})") from error
        validate_record(record, where)
        records.append(record)
    return records


def dumps_record(record):
    """One line of the history file (no newline): compact, keys in the order built."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
