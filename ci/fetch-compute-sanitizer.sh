#!/usr/bin/env bash
# Fetches NVIDIA compute-sanitizer for the GPU machine (which reaches no registry): the PyPI wheel
# nvidia-cuda-sanitizer-api (14 MB; the sanitizer of the CUDA 13.0 toolkit this build uses) into
# .gpu-stage/, which travels with the staged build; ci/gpu-sanitize.sh unpacks and uses it when no
# compute-sanitizer is installed there. Usage: ci/fetch-compute-sanitizer.sh [version-spec]
set -euo pipefail
spec=${1:-13.0.*}
mkdir -p .gpu-stage
python3 -m pip download --no-deps --only-binary=:all: "nvidia-cuda-sanitizer-api==$spec" -d .gpu-stage
ls -la .gpu-stage/nvidia_cuda_sanitizer_api-*.whl
