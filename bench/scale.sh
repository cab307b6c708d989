#!/usr/bin/env bash
# P6: N leaves, each in its own network namespace (its own "pod"), against a 3-node operator-mode
# TLS hub cluster on a bridge: time until all are ready, and after SIGKILL of the hub node with the
# most leaves, time until all are ready again; agent against bare nats-server leaves, alternating.
# Needs root (ip netns, veth, bridge) and iproute2. Usage: bench/scale.sh [N=100] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/scale.sh: needs root for network namespaces" >&2; exit 2; }
agent=${AGENT:-build/leaf-agent}
[ -x "$agent" ] || nice scripts/build.sh >/dev/null
exec python3 bench/scale.py --agent "$agent" --n "${1:-100}" --rounds "${2:-3}"
