#!/usr/bin/env bash
# Makes .peer-src/ (ignored): a trimmed llama.cpp source tarball and the script that builds the
# peer from it on the GPU machine (ci/peer/build-on-gpu.sh, copied beside it), so that a device
# call can carry both (bench/README.md "Building the peer on the GPU machine").
# Source: llama-cpp-python 0.3.36 from PyPI, which vendors llama.cpp 0c1e57098 (GitHub is not
# reachable here). Kept: the CMake tree, ggml (CPU and CUDA backends), src, include, common,
# vendor (miniaudio emptied: only mtmd uses it), and the four tools the benches run
# (llama-bench, llama-batched-bench, llama-completion, llama-quantize); tools/CMakeLists.txt is
# rewritten to add only those. Usage: ci/peer/make-source.sh [sdist.tar.gz]
set -euo pipefail
version=0.3.36
commit=0c1e570
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sdist=${1:-}
if [ -z "$sdist" ]; then
  pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$work" >&2
  sdist="$work/llama_cpp_python-$version.tar.gz"
fi
tar -xzf "$sdist" -C "$work" "llama_cpp_python-$version/vendor/llama.cpp"
src="$work/llama_cpp_python-$version/vendor/llama.cpp"
dst="$work/llama.cpp-$commit"
mkdir -p "$dst/tools" "$dst/ggml/src"
cp -a "$src"/{CMakeLists.txt,cmake,src,include,common,vendor,LICENSE} "$dst/"
[ -d "$src/licenses" ] && cp -a "$src/licenses" "$dst/"
cp -a "$src"/ggml/{CMakeLists.txt,cmake,include} "$dst/ggml/"
for item in "$src"/ggml/src/*; do
  case "$(basename "$item")" in
    ggml-*) [ -d "$item" ] && continue ;;
  esac
  cp -a "$item" "$dst/ggml/src/"
done
cp -a "$src"/ggml/src/{ggml-cpu,ggml-cuda} "$dst/ggml/src/"
rm -f "$dst"/vendor/miniaudio/*.h
cp -a "$src"/tools/{llama-bench,batched-bench,completion,quantize} "$dst/tools/"
cat > "$dst/tools/CMakeLists.txt" <<'CMAKE'
# Trimmed by llama-worker's ci/peer/make-source.sh: only the tools the benches run.
find_package(Threads REQUIRED)
llama_add_compile_flags()
add_subdirectory(batched-bench)
add_subdirectory(llama-bench)
add_subdirectory(completion)
add_subdirectory(quantize)
CMAKE
echo "llama.cpp $commit (llama-cpp-python $version sdist, trimmed by ci/peer/make-source.sh)" > "$dst/VERSION"
mkdir -p "$root/.peer-src"
tar -C "$work" -cf - "llama.cpp-$commit" | xz -T2 -9 > "$root/.peer-src/llama.cpp-$commit.tar.xz"
cp "$root/ci/peer/build-on-gpu.sh" "$root/.peer-src/build-on-gpu.sh"
du -sh "$root/.peer-src"/* | awk '{print "made " $2 ": " $1}'
