#!/usr/bin/env bash
# The main job on an embedded default: a local dev hub (nats-server in operator mode with TLS),
# then leaf-agent bringing a leaf node up against it and starting a stand-in "host" only once the
# leaf is provably connected. No external service. Ctrl-C (or the host finishing) stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh --quiet  # on failure: what failed and the first errors
agent=build/leaf-agent

$agent dev-hub --dir .dev/hub --force
nats-server -c .dev/hub/hub.conf >.dev/hub.log 2>&1 &
hub=$!
trap 'kill $hub 2>/dev/null; wait $hub 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:18222/healthz >/dev/null && break; sleep 0.1; done
kill -0 $hub 2>/dev/null || { echo "demo: the dev hub did not start (ports 14222/17422/18222 busy?):" >&2; cat .dev/hub.log >&2; exit 1; }

echo; echo "== the leaf credentials (the seed is never printed)"
$agent creds inspect .dev/hub/leaf.creds

echo; echo "== leaf-agent run: the host starts only once the leaf is connected upstream"
# The stand-in host shows what it was given and what the agent reports, then exits 0.
$agent run -c .dev/hub/agent.toml -- sh -c '
  echo "host: started with NATS_URL=$NATS_URL WASMCLOUD_JS_DOMAIN=$WASMCLOUD_JS_DOMAIN"
  curl -s http://127.0.0.1:8090/status
  echo "host: the hub lists this leaf:"; curl -s http://127.0.0.1:18222/leafz | grep -E "\"(account|leafnodes)\""
'
