#!/usr/bin/env bash
# run_pytest.sh PYTHON LIBDIR WORK_DIR MODEL.gguf
# CTest's `bindings_python`: `pip install` of bindings/python (a copy, so the source tree gets no
# build folders) into WORK_DIR/site, then its pytest suite against that installed package and
# the libllama_worker.so installed in LIBDIR. Exit 77 (skipped) without pytest.
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
"$python" -m pip install --quiet --no-build-isolation --no-deps --no-cache-dir --target "$work/site" "$work/source"
export PYTHONPATH=$work/site LLAMA_WORKER_LIB_DIR=$libdir LLAMA_WORKER_TEST_MODEL=$model
export LLAMA_WORKER_HEADER=$here/../engine/include/llama_worker.h
cd "$work"
exec "$python" -m pytest -q -p no:cacheprovider "$here/python/tests"
