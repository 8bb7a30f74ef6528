# Sourced by the GPU scripts (gpu-suite.sh, gpu-sanitize.sh): makes a build made on another
# machine runnable here. CTest files hold the configure machine's absolute paths, so when they do
# not exist here, symlinks stand in for them: the source tree (this checkout), the cmake that
# command tests run by absolute path, and the build folder (a staged copy from
# ci/stage-gpu-build.sh). Needs $root (this checkout) and $build (the build folder) set.
map_build_paths() {
  local cache="$build/CMakeCache.txt" configured configured_cmake configured_build
  configured=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$cache")
  if [ -n "$configured" ] && [ "$configured" != "$root" ] && [ ! -e "$configured" ]; then
    mkdir -p "$(dirname "$configured")" && ln -s "$root" "$configured"
  fi
  configured_cmake=$(sed -n 's/^CMAKE_COMMAND:INTERNAL=//p' "$cache")
  if [ -n "$configured_cmake" ] && [ ! -e "$configured_cmake" ] && command -v cmake >/dev/null; then
    mkdir -p "$(dirname "$configured_cmake")" && ln -s "$(command -v cmake)" "$configured_cmake"
  fi
  configured_build=$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' "$cache")
  if [ -n "$configured_build" ] && [ ! -e "$configured_build" ]; then
    mkdir -p "$(dirname "$configured_build")" && ln -s "$(cd "$build" && pwd)" "$configured_build"
  fi
}
