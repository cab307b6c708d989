#!/usr/bin/env bash
# Installs the dependencies and builds build/leaf-agent and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
generator=()
[ -f build/CMakeCache.txt ] || { command -v ninja >/dev/null && generator=(-G Ninja); }
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
