#!/bin/sh
# cli_gpu_faults.sh CASE CLI MODEL_DIR SHIM: the CLI on the CUDA backend under faults (GPU machine;
# exits 77 when there is no usable device).
#   nan_weights   generate with weights that make every logit NaN: exit 1, "non-finite" error
#   sticky_fault  a kernel stores to an invalid address after the first token (LD_PRELOAD SHIM,
#                 fault_after_first_output.cu): exit 1 with the CUDA error, within the timeout
set -u
case_name="$1"; cli="$2"; models="$3"; shim="$4"
out="$(mktemp)"; err="$(mktemp)"
trap 'rm -f "$out" "$err"' EXIT

# Is there a device? A healthy short generation on the CUDA backend must work first.
if ! "$cli" generate --backend cuda -m "$models/model.gguf" -p "hello" -n 2 --temp 0 >"$out" 2>"$err"; then
  if grep -qiE "no CUDA device|built without CUDA|cudaErrorNoDevice|cudaErrorInsufficientDriver|no device" "$err"; then
    echo "SKIPPED: no usable CUDA device: $(head -c 300 "$err")"
    exit 77
  fi
  echo "FAIL: the healthy model does not generate on the CUDA backend:"; cat "$err"; exit 1
fi

expect() {  # expect STATUS REGEX: the last run's exit status and stderr
  if [ "$status" -ne "$1" ]; then echo "FAIL: exit status $status, expected $1"; cat "$out" "$err"; exit 1; fi
  if ! grep -qE "$2" "$err"; then echo "FAIL: stderr does not match '$2':"; cat "$err"; exit 1; fi
}

case "$case_name" in
  nan_weights)
    timeout 60 "$cli" generate --backend cuda -m "$models/nan_weights.gguf" -p "hello" -n 4 --temp 0 >"$out" 2>"$err"
    status=$?
    expect 1 "^error: generate: logit of token [0-9]+ is NaN: the model produced non-finite output"
    ;;
  sticky_fault)
    LD_PRELOAD="$shim" timeout 60 "$cli" generate --backend cuda -m "$models/model.gguf" -p "hello" -n 32 --temp 0 \
      >"$out" 2>"$err"
    status=$?
    if [ "$status" -eq 124 ]; then echo "FAIL: the CLI hung after the sticky error"; cat "$err"; exit 1; fi
    grep -q "fault shim: faulting kernel launched" "$err" || { echo "FAIL: the shim never fired"; cat "$err"; exit 1; }
    expect 1 "^error: generate: .*(illegal memory access|cudaErrorIllegalAddress|unspecified launch failure)"
    ;;
  *) echo "cli_gpu_faults.sh: unknown case '$case_name'"; exit 2 ;;
esac
echo "ok: $case_name"; cat "$err"
