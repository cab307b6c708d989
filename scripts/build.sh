#!/usr/bin/env bash
# Installs the dependencies and builds build/leaf-agent and the tests.
#   scripts/build.sh            the build's output as it goes
#   scripts/build.sh --quiet    nothing on success; on failure the first errors (the whole output
#                               is in build/build.log)
# Either way a failure ends with one line saying which step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=0
if [ "${1:-}" = "--quiet" ]; then quiet=1; shift; fi

scripts/install-deps.sh || { echo "build: installing the dependencies failed (above)" >&2; exit 1; }

mkdir -p build
log=build/build.log
generator=()
[ -f build/CMakeCache.txt ] || { command -v ninja >/dev/null && generator=(-G Ninja); }
if ! cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$log" 2>&1; then
  # CMake's errors go to stderr among its other output: show them from the first on.
  errors=$(sed -n '/CMake Error/,$p' "$log" | head -n 40)
  if [ -n "$errors" ]; then echo "$errors" >&2; else tail -n 20 "$log" >&2; fi
  echo "build: cmake could not configure the build (whole output: $log)" >&2
  exit 1
fi

if [ "$quiet" = 0 ]; then
  cmake --build build -j"$(nproc)" || { echo "build: the build failed (the compiler's errors are above)" >&2; exit 1; }
  exit 0
fi
if ! cmake --build build -j"$(nproc)" >"$log" 2>&1; then
  # ninja and make print the compiler's errors on stdout: the failed targets and error lines.
  errors=$(grep -E '^FAILED: |: (fatal )?error: |undefined reference|\*\*\* ' "$log" | head -n 20 || true)
  if [ -n "$errors" ]; then echo "$errors" >&2; else tail -n 20 "$log" >&2; fi
  echo "build: the build failed (first errors above; whole output: $log)" >&2
  exit 1
fi
