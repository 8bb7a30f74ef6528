#!/usr/bin/env bash
# cli_hostile_case.sh CASE CLI MODEL VOCABULARY: one hostile use of the CLI (issue 19) that CMake
# cannot set up through add_test (a FIFO, a full or closed stdout, a memory limit, a file
# truncated while it is read). The CLI's stderr is passed through and its exit status returned,
# so the CTest row (cli_hostile.cmake) checks both; every CLI run is bounded by `timeout` (124 =
# the hang this case is about). Exit 77 (SKIPPED) with the reason when the case cannot run here.
set -u
case_name="$1"
cli="$2"
model="$3"
vocabulary="$4"
work="$(mktemp -d "${TMPDIR:-/tmp}/cli_hostile.XXXXXX")"
trap 'rm -rf "$work"' EXIT
bounded() { timeout 60 "$@"; }

case "$case_name" in
  inspect-fifo | tokenize-fifo | bench-fifo | generate-fifo | mkmodel-fifo)
    mkfifo "$work/model.gguf"
    case "$case_name" in
      inspect-fifo) bounded "$cli" inspect "$work/model.gguf" ;;
      tokenize-fifo) bounded "$cli" tokenize -m "$work/model.gguf" --text hi ;;
      bench-fifo) bounded "$cli" bench -m "$work/model.gguf" -p 1 -n 1 -r 1 --backend cpu ;;
      generate-fifo) bounded "$cli" generate --backend cpu -m "$work/model.gguf" -p hi -n 1 ;;
      mkmodel-fifo) bounded "$cli" mkmodel --vocab "$work/model.gguf" --quant Q8_0 --seed 1 -o "$work/out.gguf" ;;
    esac
    ;;
  tokenize-cases-fifo)
    mkfifo "$work/cases.inp"
    bounded "$cli" tokenize -m "$model" --cases "$work/cases.inp"
    ;;
  generate-empty-model) bounded "$cli" generate --backend cpu -m "" -p hi -n 1 ;;  # CMake drops an empty argument
  generate-full) bounded "$cli" generate --backend cpu --threads 1 -m "$model" -p hello -n 4 --temp 0 >/dev/full ;;
  tokenize-full) bounded "$cli" tokenize -m "$model" --text "hello world" >/dev/full ;;
  inspect-full) bounded "$cli" inspect "$model" >/dev/full ;;
  generate-closed) bounded "$cli" generate --backend cpu --threads 1 -m "$model" -p hello -n 4 --temp 0 >&- ;;
  tokenize-closed) bounded "$cli" tokenize -m "$model" --text "hello world" >&- ;;
  inspect-closed) bounded "$cli" inspect "$model" >&- ;;
  inspect-closed-pipe)
    # The reader is gone before the first write: SIGPIPE must not kill the process.
    status_file="$work/status"
    { bounded "$cli" inspect "$model"; echo $? >"$status_file"; } | true
    exit "$(cat "$status_file")"
    ;;
  bench-json-out-unwritable)
    # Must fail before measuring: the measurement would take far longer than this case allows.
    bounded "$cli" bench -m "$model" -p 64 -n 64 -r 1000 --backend cpu --threads 1 \
      --json-out "$work/no-such-directory/bench.json" &
    pid=$!
    # 10 s is ample for the check and far short of 1,000 repetitions of pp64 + tg64.
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      echo "bench was still measuring after 10 s: the output path was not checked first" >&2
      exit 3
    fi
    wait "$pid"
    ;;
  cpu-load-over-memory-limit)
    # A model whose fp32 copies (~0.5 GB) exceed the address-space limit; the limit is set above
    # what the CLI needs to start (measured), so only the load can fail.
    "$cli" mkmodel --vocab "$vocabulary" --quant Q4_0 --seed 1 --layers 1 --embd 2048 --ff 2048 --heads 16 \
      --kv-heads 16 -o "$work/big.gguf" >/dev/null 2>&1 || exit 3
    limit_kib=$((400 * 1024))
    if ! (ulimit -v "$limit_kib" && "$cli" inspect "$work/big.gguf" >/dev/null 2>&1); then
      echo "SKIPPED: the CLI cannot start under a ${limit_kib} KiB address-space limit (a sanitizer build reserves more)"
      exit 77
    fi
    # Checked here, not by RunAndCheck, so that the skip above reaches CTest as exit 77.
    (ulimit -v "$limit_kib" && bounded "$cli" generate --backend cpu --threads 1 -m "$work/big.gguf" -p hi -n 2) \
      2>"$work/err.txt"
    status=$?
    cat "$work/err.txt" >&2
    [ "$status" -eq 1 ] || { echo "expected exit 1, got $status" >&2; exit 3; }
    grep -q '^error: generate: out of host memory' "$work/err.txt" || { echo "no out-of-memory error line" >&2; exit 3; }
    [ "$(grep -c '^error:' "$work/err.txt")" -eq 1 ] || { echo "not exactly one error: line" >&2; exit 3; }
    exit 0
    ;;
  truncated-while-generating-cpu | truncated-while-generating-cuda)
    # The model is truncated once the first token is out; the backend must not read the mapping
    # after the load (the CPU backend copies what it needs, the CUDA backend uploaded it).
    backend="${case_name##*-}"
    "$cli" mkmodel --vocab "$vocabulary" --quant Q4_0 --seed 1 --layers 1 --embd 1024 --ff 1024 --heads 8 \
      --kv-heads 8 -o "$work/model.gguf" >/dev/null 2>&1 || exit 3
    if [ "$backend" = cuda ]; then
      probe="$("$cli" generate --backend cuda -m "$work/model.gguf" -p hi -n 1 2>&1 >/dev/null)" || {
        echo "SKIPPED: the CUDA backend cannot run here: $probe"
        exit 77
      }
    fi
    bounded "$cli" generate --backend "$backend" --threads 1 -m "$work/model.gguf" -p hello -n 100 --temp 0 \
      >"$work/out.txt" 2>"$work/err.txt" &
    pid=$!
    while [ ! -s "$work/out.txt" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
    truncate -s 4096 "$work/model.gguf"
    kill -0 "$pid" 2>/dev/null && running=yes || running=no
    wait "$pid"
    status=$?
    cat "$work/err.txt" >&2
    if [ "$running" = no ] && [ "$status" -eq 0 ]; then
      echo "the generation ended before the truncation: this case proved nothing" >&2
      exit 3
    fi
    exit "$status"
    ;;
  *)
    echo "cli_hostile_case.sh: unknown case '$case_name'" >&2
    exit 3
    ;;
esac
