#!/usr/bin/env bash
# The main job on an embedded default: a local dev hub (operator mode, TLS), no external service.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
build/leaf-agent dev-hub --dir .dev/hub --force
build/leaf-agent creds inspect .dev/hub/leaf.creds
