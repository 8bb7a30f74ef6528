#!/usr/bin/env bash
# run_pytest.sh PYTHON LIBDIR WORK_DIR MODEL.gguf
# CTest's `bindings_python`: `pip install` of bindings/python (a copy, so the source tree gets no
# build folders) into WORK_DIR/site, then its pytest suite against that installed package and
# the libllama_worker.so installed in LIBDIR. Exit 77 (skipped) without pytest.
# LLAMA_WORKER_PRELOAD: a sanitizer runtime preloaded into pytest's python (asan builds; leak
# checking off: the interpreter's own allocations at exit are not ours).
set -euo pipefail
python=$1 libdir=$2 work=$3 model=$4
here=$(cd "$(dirname "$0")" && pwd)
if ! "$python" -c "import pytest" 2>/dev/null; then
  echo "SKIPPED: $python has no pytest (ci/setup.sh installs python3-pytest)"
  exit 77
fi
[ -f "$model" ] || { echo "SKIPPED: test model '$model' is missing"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
cp -r "$here/python" "$work/source"
rm -rf "$work/source/tests"
# Debian's pip: --no-build-isolation builds with the system setuptools (no download); --target
# installs into a folder of ours, not the system's.
"$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-build-isolation --no-deps --no-cache-dir --target "$work/site" "$work/source"
export PYTHONPATH=$work/site LLAMA_WORKER_LIB_DIR=$libdir LLAMA_WORKER_TEST_MODEL=$model
export LLAMA_WORKER_HEADER=$here/../engine/include/llama_worker.h
cd "$work"
if [ -n "${LLAMA_WORKER_PRELOAD:-}" ]; then
  export LD_PRELOAD=$LLAMA_WORKER_PRELOAD ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
fi
exec "$python" -m pytest -q -p no:cacheprovider "$here/python/tests"
