#!/usr/bin/env bash
# Prints the Debian packages that provide the shared libraries BINARY... load, one per line, as
# found by ldd (the image's runtime stage installs exactly these). Fails if ldd finds a library
# missing or a library belongs to no package.
set -euo pipefail
libs=$(for b in "$@"; do ldd "$b"; done)
if grep -F 'not found' <<<"$libs"; then
  echo "runtime-packages: the libraries above are missing" >&2
  exit 1
fi
for lib in $(awk '$2 == "=>" && $3 ~ /^\// {print $3}' <<<"$libs" | sort -u); do
  real=$(readlink -f "$lib")
  # merged /usr: dpkg may record the file under /lib or /usr/lib
  owner=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || dpkg -S "/usr$real" 2>/dev/null) ||
    { echo "runtime-packages: no Debian package owns $lib ($real)" >&2; exit 1; }
  echo "${owner%%:*}"
done | sort -u
