#!/usr/bin/env bash
# Line and branch coverage of engine/ and kernels/cpu/ from the counters the cpu suite left in a
# coverage build (`cmake --workflow --preset coverage-ci` first), per module, and CI's gate:
# fails (exit 1) under 90% of lines or 65% of branches in total, or under 80% of lines in any
# module. Tests, test helpers (*/testing/), fuzz harnesses and benches are not counted; branches
# that only exist to throw exceptions are left out (--exclude-throw-branches).
#
#   ci/coverage-report.sh [BUILD_DIR]     default build/coverage
#
# Writes BUILD_DIR/coverage/summary.json (gcovr's JSON summary), table.md (the README's table),
# files.txt (gcovr's per-file text report, with the lines not run).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${1:-build/coverage}"
if ! find "$build_dir" -name '*.gcda' -print -quit 2>/dev/null | grep -q .; then
  echo "error: no coverage counters (*.gcda) under $build_dir: run cmake --workflow --preset coverage-ci first" >&2
  exit 2
fi
out="$build_dir/coverage"
mkdir -p "$out"

gcovr --root . -j "$(nproc)" \
  --filter 'engine/' --filter 'kernels/cpu/' \
  --exclude '.*/tests/' --exclude '.*/testing/' \
  --exclude-throw-branches \
  --json-summary "$out/summary.json" --txt "$out/files.txt" \
  "$build_dir"

python3 ci/coverage_table.py "$out/summary.json" --files-under 80 \
  --min-lines 90 --min-branches 65 --module-min-lines 80 | tee "$out/table.md"
