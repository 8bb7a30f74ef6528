#!/usr/bin/env bash
# cli_parallel.sh CASE CLI MODEL: `bench --parallel` and `generate --parallel` (issue 17) on a tiny
# mkmodel model (fixture cli_parallel_model in cli_parallel.cmake). Each case prints what it
# found and exits non-zero on the first mismatch; every CLI run is bounded by `timeout`.
set -u
case_name="$1"
cli="$2"
model="$3"
work="$(mktemp -d "${TMPDIR:-/tmp}/cli_parallel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
bounded() { timeout 120 "$@"; }
common=(--backend cpu --threads 2 -m "$model")

# The completions of `generate --parallel` split per prompt: $work/parallel.K holds what followed
# the `### prompt K` line, the same bytes `generate -p` prints for that prompt alone.
split_parallel() {
  awk -v dir="$work" '/^### prompt [0-9]+$/ { file = dir "/parallel." $3; printf "" > file; next }
                      { print > file }' "$1"
}

# compare_alone PROMPTS_FILE COUNT OPTIONS...: --parallel COUNT equals generate -p for each line.
compare_alone() {
  local prompts="$1" count="$2"
  shift 2
  bounded "$cli" generate "${common[@]}" --parallel "$count" --prompts-file "$prompts" "$@" \
    >"$work/parallel.out" 2>"$work/parallel.err" || { cat "$work/parallel.err" >&2; fail "generate --parallel $count"; }
  [ "$(grep -c '^### prompt ' "$work/parallel.out")" -eq "$count" ] || fail "expected $count '### prompt' headers"
  split_parallel "$work/parallel.out"
  local k=0
  while IFS= read -r prompt && [ "$k" -lt "$count" ]; do
    k=$((k + 1))
    bounded "$cli" generate "${common[@]}" -p "$prompt" "$@" >"$work/alone.$k" 2>/dev/null ||
      fail "generate -p '$prompt'"
    cmp -s "$work/alone.$k" "$work/parallel.$k" ||
      fail "prompt $k ('$prompt') differs: alone '$(cat "$work/alone.$k")', parallel '$(cat "$work/parallel.$k")'"
    echo "prompt $k equal to alone ($(wc -c <"$work/alone.$k") bytes) with $*"
  done <"$prompts"
}

printf 'Hello there\nWrite a haiku about a GPU.\nnot used: only the first N lines are\n' >"$work/prompts.txt"

case "$case_name" in
  bench)
    bounded "$cli" bench "${common[@]}" --parallel 1,2 -p 8 -n 4 --json-out "$work/bench.json" \
      >"$work/table.md" || fail "bench --parallel 1,2"
    cat "$work/table.md"
    # Rows: | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | S_TG/B t/s | T s | S t/s | steps | KV pool |
    for streams in 1 2; do
      awk -F'|' -v b="$streams" '$4 + 0 == b && $2 + 0 == 8 && $3 + 0 == 4 {
          found = 1
          for (c = 5; c <= 13; ++c) if ($c + 0 <= 0) bad = 1
        } END { exit !(found && !bad) }' "$work/table.md" || fail "no row with positive figures for B=$streams"
    done
    command -v python3 >/dev/null || { echo "SKIPPED: python3 is needed to parse the JSON record"; exit 77; }
    python3 - "$work/bench.json" <<'PY' || fail "the JSON record"
import json, sys
record = json.load(open(sys.argv[1]))
rows = record["parallel"]
assert [row["pl"] for row in rows] == [1, 2], rows
for row in rows:
    assert row["pp"] == 8 and row["tg"] == 4 and row["n_kv"] == row["pl"] * 12, row
    for key in ("t_pp", "speed_pp", "t_tg", "speed_tg", "speed_tg_per_stream", "t", "speed", "kv_pool_bytes",
                "kv_pool_blocks", "steps"):
        assert row[key] > 0, (key, row)
    assert abs(row["speed_tg"] - row["pl"] * row["speed_tg_per_stream"]) < 1e-6 * row["speed_tg"], row
    assert row["steps"] == 1 + row["tg"], row  # one prefill step, then one decode step per token
print("JSON: %d parallel rows" % len(rows))
PY
    ;;
  generate-greedy) compare_alone "$work/prompts.txt" 2 -n 12 --temp 0 ;;
  generate-seeded)
    compare_alone "$work/prompts.txt" 2 -n 12 --temp 0.9 --top-k 40 --seed 11
    compare_alone "$work/prompts.txt" 2 -n 10 --temp 1.2 --top-p 0.9 --repeat-penalty 1.1 --seed 3 --chat
    ;;
  generate-too-few-lines)
    printf 'one\ntwo\n' >"$work/two.txt"
    bounded "$cli" generate "${common[@]}" --parallel 3 --prompts-file "$work/two.txt" -n 2
    ;;
  generate-empty-line)
    printf 'one\n\nthree\n' >"$work/blank.txt"
    bounded "$cli" generate "${common[@]}" --parallel 3 --prompts-file "$work/blank.txt" -n 2
    ;;
  generate-too-long)
    printf 'short\n%s\n' "$(printf 'word %.0s' $(seq 40))" >"$work/long.txt"
    bounded "$cli" generate "${common[@]}" --ctx 24 --parallel 2 --prompts-file "$work/long.txt" -n 4
    ;;
  *)
    echo "unknown case '$case_name'" >&2
    exit 2
    ;;
esac
