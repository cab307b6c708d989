#!/usr/bin/env bash
# Time to ready: leaf-agent (validate creds, preflight, render, nats-server -t, launch, confirm)
# against a bare nats-server with the same leaf config (launch until /leafz shows the upstream).
# Both are timed from process start to the first positive answer, polled every 5 ms, against a
# dev hub on this machine. Prints medians and the ratio. Usage: bench/time-to-ready.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
agent=build/leaf-agent
[ -x "$agent" ] || scripts/build.sh >/dev/null
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT

# A port nobody listens on, picked at random at run time below the ephemeral range (32768+).
free_port() {
  local p
  while :; do p=$(shuf -i 20000-32000 -n 1); ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }; done
}
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

hp=$(free_port); lp=$(free_port); mp=$(free_port)
$agent dev-hub --dir "$dir/hub" --port "$hp" --leaf-port "$lp" --http-port "$mp" >/dev/null
nats-server -c "$dir/hub/hub.conf" >/dev/null 2>&1 &
until curl -sf "http://127.0.0.1:$mp/healthz" >/dev/null; do sleep 0.05; done

listen=$(free_port); monitor=$(free_port); health=$(free_port)
flags=(-c "$dir/hub/agent.toml" --state-dir "$dir/state" --listen "127.0.0.1:$listen"
       --monitor "127.0.0.1:$monitor" --health-listen "127.0.0.1:$health" --log-level warn)
$agent init "${flags[@]}" >/dev/null 2>&1   # a rendered config for the bare baseline

wait_for() { until curl -sf "$1" 2>/dev/null | grep -q "$2"; do sleep 0.005; done; }

: >"$dir/bare"; : >"$dir/agent"
for _ in $(seq "$runs"); do
  t0=$(now_ms); nats-server -c "$dir/state/nats.conf" >/dev/null 2>&1 & pid=$!
  wait_for "http://127.0.0.1:$monitor/leafz" '"leafnodes": 1'
  echo $(( $(now_ms) - t0 )) >>"$dir/bare"; kill $pid; wait $pid 2>/dev/null || true

  t0=$(now_ms); $agent run "${flags[@]}" >/dev/null 2>&1 & pid=$!
  wait_for "http://127.0.0.1:$health/readyz" '"ready":true'
  echo $(( $(now_ms) - t0 )) >>"$dir/agent"; kill $pid; wait $pid 2>/dev/null || true
done
bare=$(median <"$dir/bare"); ag=$(median <"$dir/agent")
awk -v n="$runs" -v b="$bare" -v a="$ag" 'BEGIN {
  printf "time to ready over %d runs (median, ms): bare nats-server leaf %s, leaf-agent %s, ratio %.2f\n", n, b, a, a / b }'
