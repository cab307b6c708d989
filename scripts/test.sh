#!/usr/bin/env bash
# Every test: installs dependencies, builds, runs the unit and integration tests under ctest.
# Integration tests start real nats-server processes on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 300 "$@"
