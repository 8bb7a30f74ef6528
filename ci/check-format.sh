#!/usr/bin/env bash
# Checks that every C, C++ and CUDA file git tracks is formatted as .clang-format says, with
# Debian's clang-format (ci/setup.sh installs it). Exit 0 when all are formatted; 1 with the
# offending files and clang-format's diagnostics otherwise; 2 on a usage or tool error.
#
#   ci/check-format.sh            check the whole tree (what CI runs: .ci/run)
#   ci/check-format.sh --staged   check only the files staged for commit (the pre-commit hook)
#   ci/check-format.sh --fix      reformat the tracked files in place (the tree's formatting commit)
#
# As a pre-commit hook, from the repository root:
#   printf '#!/bin/sh\nexec ci/check-format.sh --staged\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit
# (in a worktree, the hooks folder is `git rev-parse --git-common-dir`/hooks).
#
# CLANG_FORMAT names another binary (default: clang-format, Debian 12's 14.0.6). Other versions
# format some constructs differently, so CI's answer is the one that counts.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=check
case "${1:-}" in
  "") ;;
  --staged) mode=staged ;;
  --fix) mode=fix ;;
  *) echo "usage: ci/check-format.sh [--staged | --fix]" >&2; exit 2 ;;
esac

clang_format="${CLANG_FORMAT:-clang-format}"
if ! command -v "$clang_format" >/dev/null; then
  echo "error: $clang_format not found (ci/setup.sh installs Debian's clang-format)" >&2
  exit 2
fi

# The sources we own: every tracked C/C++/CUDA file. Data (corpora, vectors) has other suffixes.
source_pattern='\.(c|h|cc|cpp|hpp|cu|cuh)$'
if [ "$mode" = staged ]; then
  mapfile -t files < <(git diff --cached --name-only --diff-filter=ACMR | grep -E "$source_pattern" || true)
else
  mapfile -t files < <(git ls-files | grep -E "$source_pattern")
fi
[ ${#files[@]} -eq 0 ] && exit 0

if [ "$mode" = fix ]; then
  "$clang_format" -i --style=file "${files[@]}"
  echo "ci/check-format.sh: formatted ${#files[@]} files with $("$clang_format" --version)"
  exit 0
fi

# One clang-format process for all files; it names each unformatted file in its diagnostics
# ("FILE:LINE:COL: error: code should be clang-formatted"). A staged check reads the staged
# content, not the working copy: it checks what will be committed, one file at a time.
unformatted=()
if [ "$mode" = staged ]; then
  for file in "${files[@]}"; do
    if ! git show ":$file" | "$clang_format" --style=file --assume-filename="$file" --dry-run --Werror \
      >/dev/null 2>&1; then
      unformatted+=("$file")
    fi
  done
else
  set +e
  diagnostics="$("$clang_format" --style=file --dry-run --Werror "${files[@]}" 2>&1 >/dev/null)"
  status=$?
  set -e
  mapfile -t unformatted < <(printf '%s\n' "$diagnostics" | sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u)
  if [ "$status" -ne 0 ] && [ ${#unformatted[@]} -eq 0 ]; then
    printf '%s\n' "$diagnostics" >&2
    echo "error: $clang_format failed (status $status)" >&2
    exit 2
  fi
fi

if [ ${#unformatted[@]} -ne 0 ]; then
  echo "error: ${#unformatted[@]} of ${#files[@]} files are not formatted ($("$clang_format" --version)):" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  echo "fix with: ci/check-format.sh --fix (or $clang_format -i FILE)" >&2
  exit 1
fi
echo "ci/check-format.sh: ${#files[@]} files formatted"
