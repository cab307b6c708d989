#!/usr/bin/env bash
# Every test, as CI runs it (each step installs what it needs and builds first):
#   1. unit + integration tests against real nats-server processes (ctest, build/), the leaf
#      scenarios again with every nats-server release Debian ships (bookworm's, trixie's and
#      sid's, unpacked into build/nats-servers by scripts/nats-servers.sh: the release matrix);
#   2. the same suite built with AddressSanitizer + UBSan (build-asan/);
#   3. every libFuzzer target for 30 s (scripts/fuzz.sh);
#   4. the image and both compose stacks (scripts/container-test.sh).
#   scripts/test.sh            all of it
#   scripts/test.sh --quick    step 1 only (extra arguments go to ctest, e.g. -R supervisor)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi

scripts/install-deps.sh
echo "== nats-server releases for the release matrix (Debian bookworm, trixie, sid)" >&2
scripts/nats-servers.sh build/nats-servers | sed 's/^/   /' >&2
scripts/build.sh
echo "== unit + integration tests" >&2
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 300 "$@")
[ "$quick" = 1 ] && exit 0

echo "== the same suite under AddressSanitizer + UndefinedBehaviorSanitizer" >&2
generator=()
[ -f build-asan/CMakeCache.txt ] || { command -v ninja >/dev/null && generator=(-G Ninja); }
cmake -S . -B build-asan "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug -DLEAF_SANITIZE=ON \
  -DLEAF_NATS_SERVERS_DIR="$PWD/build/nats-servers" >/dev/null
cmake --build build-asan -j"$(nproc)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$(nproc)" --timeout 600)

echo "== fuzzers, 30 s each" >&2
scripts/fuzz.sh 30

echo "== image and compose stacks" >&2
scripts/container-test.sh
