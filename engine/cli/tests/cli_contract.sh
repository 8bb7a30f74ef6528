#!/usr/bin/env bash
# cli_contract.sh CLI MODEL VOCABULARY: the CLI's contract (README, "Exit statuses") over every
# subcommand x a generated list of hostile arguments (issue 19). For each run:
#   - the exit status is 0, 1 or 2 (never a signal: 128 + n; never the timeout's 124);
#   - on 1 or 2, stderr holds exactly one line starting with "error:"; on 0, none;
#   - it ends within the time bound (a FIFO or a stdin read would hang).
# Hostile values: special files as inputs (FIFO, directory, /dev/null, /dev/zero, empty and
# truncated files, missing paths, ""), as outputs (FIFO, directory, /dev/full, missing directory,
# ""), and numbers (negative, zero, overflowing, non-numeric, NaN, huge) for every numeric option.
# Every failing case is listed; the exit status is the number of failures (capped at 100).
set -u
cli="$1"
model="$2"
vocabulary="$3"
time_bound=60
work="$(mktemp -d "${TMPDIR:-/tmp}/cli_contract.XXXXXX")"
trap 'rm -rf "$work"' EXIT

mkfifo "$work/fifo"
mkdir "$work/directory"
: >"$work/empty.gguf"
head -c 100 "$model" >"$work/truncated.gguf"
printf 'not a gguf file\n' >"$work/text.gguf"

hostile_inputs=("" "$work/missing.gguf" "$work/directory" "$work/fifo" /dev/null /dev/zero "$work/empty.gguf"
  "$work/truncated.gguf" "$work/text.gguf")
hostile_outputs=("" "$work/no-such-directory/out" "$work/directory" "$work/fifo" /dev/full)
hostile_numbers=(-1 -5 0 99999999999999999999999 18446744073709551616 1e309 nan abc "" 100000 " 7" +3 0x10)

runs=0
failures=0
declare -A by_status=([0]=0 [1]=0 [2]=0)
# check DESCRIPTION COMMAND...: runs one case (stdin from /dev/null) and checks the contract.
check() {
  local description="$1"
  shift
  runs=$((runs + 1))
  timeout -s KILL "$time_bound" "$@" </dev/null >"$work/stdout" 2>"$work/stderr"
  local status=$?
  by_status[$status]=$((${by_status[$status]:-0} + 1))
  local errors
  errors=$(grep -c '^error:' "$work/stderr")
  local problem=""
  if [ "$status" -eq 137 ]; then
    problem="no exit within ${time_bound} s (a hang)"
  elif [ "$status" -gt 2 ]; then
    problem="exit status $status (a signal or an undocumented status)"
  elif [ "$status" -ne 0 ] && [ "$errors" -ne 1 ]; then
    problem="exit status $status with $errors 'error:' lines on stderr (one expected)"
  elif [ "$status" -eq 0 ] && [ "$errors" -ne 0 ]; then
    problem="exit status 0 with an 'error:' line on stderr"
  fi
  if [ -n "$problem" ]; then
    failures=$((failures + 1))
    echo "FAIL: $description: $problem"
    sed 's/^/    stderr: /' "$work/stderr" | head -5
  fi
}

out="$work/out.bin"
cheap_generate=(generate --backend cpu --threads 1 -p hi -n 2 --temp 0)
cheap_bench=(bench --backend cpu --threads 1 -p 4 -n 2 -r 1 --no-warmup)
printf 'hi\nhello\n' >"$work/prompts.txt"
cheap_parallel_generate=(generate --backend cpu --threads 1 --parallel 2 --prompts-file "$work/prompts.txt" -n 2 --temp 0)
cheap_parallel_bench=(bench --backend cpu --threads 1 --parallel 1,2 -p 4 -n 2 --no-warmup)
cheap_mkmodel=(mkmodel --quant Q8_0 --seed 1 --layers 1 --embd 64 --ff 64 --heads 2 --kv-heads 2)

# Inputs: the model (or vocabulary, or cases) path of every subcommand.
for input in "${hostile_inputs[@]}"; do
  check "inspect '$input'" "$cli" inspect "$input"
  check "inspect --json '$input'" "$cli" inspect --json "$input"
  check "tokenize -m '$input'" "$cli" tokenize -m "$input" --text hi
  check "tokenize --cases '$input'" "$cli" tokenize -m "$model" --cases "$input"
  check "generate -m '$input'" "$cli" "${cheap_generate[@]}" -m "$input"
  check "logits -m '$input'" "$cli" logits --backend cpu --threads 1 -m "$input" --tokens "1 2" --out "$out"
  check "bench -m '$input'" "$cli" "${cheap_bench[@]}" -m "$input"
  check "bench --parallel -m '$input'" "$cli" "${cheap_parallel_bench[@]}" -m "$input"
  check "generate --prompts-file '$input'" "$cli" generate --backend cpu --threads 1 --parallel 2 -n 2 \
    -m "$model" --prompts-file "$input"
  check "mkmodel --vocab '$input'" "$cli" "${cheap_mkmodel[@]}" --vocab "$input" -o "$work/mk.gguf"
done

# Outputs.
for output in "${hostile_outputs[@]}"; do
  check "logits --out '$output'" "$cli" logits --backend cpu --threads 1 -m "$model" --tokens "1 2" --out "$output"
  check "bench --json-out '$output'" "$cli" "${cheap_bench[@]}" -m "$model" --json-out "$output"
  check "mkmodel -o '$output'" "$cli" "${cheap_mkmodel[@]}" --vocab "$vocabulary" -o "$output"
done

# without OPTION ARGS...: ARGS less OPTION and its value (NUL-separated, for mapfile), so that the
# hostile value is the option's only value.
without() {
  local skip="$1"
  shift
  while [ $# -gt 0 ]; do
    if [ "$1" = "$skip" ]; then
      shift 2
      continue
    fi
    printf '%s\0' "$1"
    shift
  done
}

# Numbers: every numeric option of every subcommand.
for number in "${hostile_numbers[@]}"; do
  for option in -n --seed --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --threads --ctx --device \
    --vram-budget --upload-chunk; do
    mapfile -d '' base < <(without "$option" "${cheap_generate[@]}")
    check "generate $option '$number'" "$cli" "${base[@]}" -m "$model" "$option" "$number"
  done
  mapfile -d '' base < <(without --parallel "${cheap_parallel_generate[@]}")
  check "generate --parallel '$number'" "$cli" "${base[@]}" -m "$model" --parallel "$number"
  mapfile -d '' base < <(without --parallel "${cheap_parallel_bench[@]}")
  check "bench --parallel '$number'" "$cli" "${base[@]}" -m "$model" --parallel "$number"
  for option in --threads --ctx --device --vram-budget --upload-chunk; do
    check "logits $option '$number'" "$cli" logits --backend cpu -m "$model" --tokens "1 2" --out "$out" \
      "$option" "$number"
  done
  for option in -p -n -d -r --seed --threads --device --ctx; do
    mapfile -d '' base < <(without "$option" "${cheap_bench[@]}")
    check "bench $option '$number'" "$cli" "${base[@]}" -m "$model" "$option" "$number"
  done
  for option in --seed --layers --embd --ff --heads --kv-heads --threads; do
    mapfile -d '' base < <(without "$option" "${cheap_mkmodel[@]}")
    check "mkmodel $option '$number'" "$cli" "${base[@]}" --vocab "$vocabulary" -o "$work/mk.gguf" "$option" "$number"
  done
  check "inspect --array-items '$number'" "$cli" inspect "$model" --array-items "$number"
  check "tokenize --decode '$number'" "$cli" tokenize -m "$model" --decode "$number"
  check "logits --tokens '$number'" "$cli" logits --backend cpu -m "$model" --tokens "$number" --out "$out"
done

# Empty strings and bad text where a value is free-form.
mapfile -d '' generate_without_prompt < <(without -p "${cheap_generate[@]}")
check "generate -p ''" "$cli" "${generate_without_prompt[@]}" -m "$model" -p ""
mapfile -d '' base < <(without --backend "${cheap_generate[@]}")
check "generate --backend ''" "$cli" "${base[@]}" -m "$model" --backend ""
check "tokenize --text ''" "$cli" tokenize -m "$model" --text ""
check "tokenize --decode ''" "$cli" tokenize -m "$model" --decode ""
check "tokenize --decode '12abc'" "$cli" tokenize -m "$model" --decode "12abc"
check "generate -p invalid UTF-8" "$cli" "${generate_without_prompt[@]}" -m "$model" -p "$(printf 'a\377b')"
check "mkmodel --quant ''" "$cli" mkmodel --vocab "$vocabulary" --quant "" --seed 1 -o "$work/mk.gguf"
mapfile -d '' base < <(without -p "${cheap_bench[@]}")
check "bench -p ''" "$cli" "${base[@]}" -m "$model" -p ""

echo "cli_contract: $runs runs (status 0: ${by_status[0]}, 1: ${by_status[1]}, 2: ${by_status[2]}), $failures failures"
[ "$failures" -gt 100 ] && failures=100
exit "$failures"
