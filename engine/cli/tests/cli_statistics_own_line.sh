#!/bin/sh
# cli_statistics_own_line.sh CLI MODEL: runs `CLI generate` with stdout and stderr in one pipe
# (as `llama-worker generate ... 2>&1 | tee log` does) and checks that the statistics start on a
# line of their own after the generated text, not glued to its last word. Exit 0 when they do,
# 1 (printing the combined output) when they do not.
cli="$1"
model="$2"
combined="$("$cli" generate --backend cpu --threads 1 -m "$model" -p "Hello there" -n 4 --temp 0 2>&1)" || {
  printf '%s\n' "$combined"
  echo "cli_statistics_own_line.sh: generate failed" >&2
  exit 1
}
if printf '%s\n' "$combined" | grep -q '^model .*backend cpu$'; then
  exit 0
fi
printf '%s\n' "$combined"
echo "cli_statistics_own_line.sh: the statistics line ('model ...') does not start a line" >&2
exit 1
