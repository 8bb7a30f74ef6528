#!/usr/bin/env python3
"""CI check of ci/batched_history.py (CTest bench.batched_history.check; standard library only).

  check_batched_history.py WORK_DIR

Writes, under WORK_DIR, the logs of a ci/gpu-check-batched.sh call as that script leaves them
(machine.txt, `bench --parallel` and single-stream JSON for Qwen, llama-batched-bench's markdown
table with its header, separator and a row for a stream count we did not run) and checks the
record batched_history.py prints:
  - the card is machine.txt's first field; date, commit and note as given;
  - one "S_TG xN" figure per parallel row, ours = speed_tg rounded to 0.01, peer = the S_TG cell of
    the peer row with the same B (null when the peer has no such row);
  - "tg128 one-inference path" = the tg128 test's avg_ts, compared with the peer's one stream;
  - Phi-3 is left out (no logs for it), and the record passes history_format.validate_record.
Then the failures: a folder without machine.txt, and one without any model's logs, each exit 1
with "error:" and the folder's name on stderr, nothing on stdout.
Prints "batched history check ok" and exits 0, or names every failure and exits 1.
"""
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
SCRIPT = ROOT / "ci" / "batched_history.py"
sys.path.insert(0, str(HERE.parent))
import history_format  # noqa: E402

failures = []

PEER_TABLE = """main: n_kv_max = 16640, n_batch = 2048, n_ubatch = 512, flash_attn = 1
|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |
|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|
|   128 |    128 |    1 |    256 |    0.020 |  6400.00 |    0.155 |   825.17 |    0.175 |  1462.86 |
|   128 |    128 |    4 |   1024 |    0.031 | 16516.13 |    0.214 |  2389.53 |    0.245 |  4179.59 |
|   128 |    128 |   64 |  16384 |    0.390 | 21005.13 |    0.755 | 10850.33 |    1.145 | 14309.17 |
exit 0
"""


def parallel_row(streams, speed_tg):
    return {"pl": streams, "pp": 128, "tg": 128, "speed_tg": speed_tg,
            "speed_tg_per_stream": speed_tg / streams}


def write_call(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "machine.txt").write_text("NVIDIA H100 80GB HBM3, 580.159.04, 81559 MiB\n")
    model = {"architecture": "qwen2", "file_type": "Q4_K - Medium", "file_bytes": 397805248,
             "name": "Qwen2.5-0.5B-Instruct (vocab only)"}
    (folder / "ours-parallel-qwen.json").write_text(json.dumps(
        {"model": model, "parallel": [parallel_row(1, 1017.456), parallel_row(4, 3927.004),
                                      parallel_row(16, 13078.1)]}))
    (folder / "ours-single-qwen.json").write_text(json.dumps(
        {"model": model, "parallel": [],
         "tests": [{"name": "pp128", "avg_ts": 90000.0}, {"name": "tg128", "avg_ts": 1079.1234}]}))
    (folder / "peer-parallel-qwen.log").write_text(PEER_TABLE)


def run(folder):
    return subprocess.run([sys.executable, str(SCRIPT), str(folder), "--date", "2026-12-06T16:20:00Z",
                           "--commit", "abc1234", "--note", "fixture"],
                          capture_output=True, text=True, check=False)


def expect(condition, message):
    if not condition:
        failures.append(message)


def check_record(work):
    folder = work / "call"
    write_call(folder)
    result = run(folder)
    if result.returncode != 0:
        failures.append(f"a complete call: exit {result.returncode}: {result.stderr.strip()}")
        return
    record = json.loads(result.stdout)
    try:
        history_format.validate_record(record, "printed record")
    except history_format.HistoryError as error:
        failures.append(str(error))
    expect(record["gpu"] == "NVIDIA H100 80GB HBM3", f"gpu is {record['gpu']!r}")
    expect((record["date"], record["commit"], record["note"]) == ("2026-12-06T16:20:00Z", "abc1234", "fixture"),
           "date, commit or note not as given")
    expect(list(record["models"]) == ["qwen"], f"models are {list(record['models'])}, expected only qwen")
    figures = record["models"].get("qwen", {}).get("figures", {})
    wanted = {"S_TG x1": (1017.46, 825.17), "S_TG x4": (3927.0, 2389.53), "S_TG x16": (13078.1, None),
              "tg128 one-inference path": (1079.12, 825.17)}
    expect(set(figures) == set(wanted), f"figures are {sorted(figures)}, expected {sorted(wanted)}")
    for key, (ours, peer) in wanted.items():
        got = figures.get(key, {})
        expect(got.get("ours") == ours and got.get("peer") == peer,
               f"{key}: ours {got.get('ours')} peer {got.get('peer')}, expected {ours} / {peer}")
        expect(got.get("better") == "higher" and got.get("unit") == "tok/s", f"{key}: unit or direction")


def check_refusals(work):
    no_machine = work / "no-machine"
    write_call(no_machine)
    os.remove(no_machine / "machine.txt")
    no_models = work / "no-models"
    no_models.mkdir(parents=True, exist_ok=True)
    (no_models / "machine.txt").write_text("NVIDIA H100 80GB HBM3, 580.159.04, 81559 MiB\n")
    for folder in (no_machine, no_models):
        result = run(folder)
        expect(result.returncode == 1, f"{folder.name}: exit {result.returncode}, expected 1")
        expect(result.stdout == "", f"{folder.name}: printed a record: {result.stdout[:80]!r}")
        expect(result.stderr.startswith("error: ") and folder.name in result.stderr,
               f"{folder.name}: stderr {result.stderr.strip()!r} does not start with 'error:' and name it")


def main():
    work = pathlib.Path(sys.argv[1]) / "batched-history-check"
    check_record(work)
    check_refusals(work)
    for failure in failures:
        print(f"FAIL: {failure}")
    if failures:
        return 1
    print("batched history check ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
