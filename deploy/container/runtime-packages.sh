#!/usr/bin/env bash
# Prints the Debian packages that provide the shared libraries a binary loads, one per line:
# what the runtime image installs so that it holds the daemon's libraries and nothing else.
# Usage: runtime-packages.sh BINARY
set -euo pipefail
binary=${1:?usage: runtime-packages.sh BINARY}
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
  while read -r lib; do
    real=$(readlink -f "$lib")
    # Debian 12 is usrmerged: dpkg knows a file under /lib or /usr/lib, whichever it shipped.
    for candidate in "$lib" "$real" "${lib#/usr}" "/usr${lib}" "${real#/usr}" "/usr${real}"; do
      if owner=$(dpkg -S "$candidate" 2>/dev/null); then
        printf '%s\n' "${owner%%:*}"
        continue 2
      fi
    done
    printf 'runtime-packages.sh: no package owns %s\n' "$lib" >&2
    exit 1
  done | sort -u
