#!/bin/sh
# cli_raw_prompt.sh CLI MODEL KIND: runs `CLI generate` with a prompt CMake cannot pass through
# add_test (an empty argument is dropped, raw bytes are not valid in a CMake string):
#   empty         -p ""
#   invalid-utf8  -p "abc<0xFF>def"
cli="$1"
model="$2"
case "$3" in
  empty) prompt="" ;;
  invalid-utf8) prompt="$(printf 'abc\377def')" ;;
  *) echo "cli_raw_prompt.sh: unknown kind '$3'" >&2; exit 3 ;;
esac
exec "$cli" generate --backend cpu --threads 1 -m "$model" -p "$prompt" -n 2 --temp 0
