#!/usr/bin/env bash
# What a credential rotation costs the traffic through the leaf (issue #21), per nats-server
# release in build/nats-servers (scripts/nats-servers.sh), with the move by config reload
# (credentials.rotate = "auto": 2.14+ a reload naming the other file, 2.12 and 2.13 two reloads
# toggling the remote; "toggle" on 2.14+ too) and without it ("expiry"), each with nats-server's default
# leafnodes.reconnect (1 s) and with upstream.reconnect = "50ms" (2.10+; 2.9 takes whole
# seconds): messages lost per rotation (each way, 100 msg/s) and the longest loss. About a
# minute per row.
#   bench/rotation.sh [rotations]      (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rotations=${1:-3}
[ -s build/nats-servers/versions ] || scripts/nats-servers.sh build/nats-servers >/dev/null
cmake --build build --target bench_rotation >/dev/null
newest=$(tail -n 1 build/nats-servers/versions | cut -d' ' -f1)
printf '%-8s %-7s %-10s %-13s %-11s %-17s %-19s %s\n' leaf mode reconnect "moves r+t+e" "sent/way" "lost/rotation" \
  "longest loss ms" "agent gap ms"
while read -r version _; do
  for reconnect in default 50ms; do
    case "$version" in 2.9.*) [ "$reconnect" = default ] || continue ;; esac
    modes=(auto expiry)
    # 2.14+: "auto" reloads with the other file; the two-reload toggle (2.12+) has a row of its own.
    [ "$(printf '%s\n' 2.14.0 "$version" | sort -V | head -1)" = 2.14.0 ] && modes+=(toggle)
    for mode in "${modes[@]}"; do
      extra=()
      [ "$reconnect" = default ] || extra=(--reconnect "$reconnect")
      line=$(build/bench_rotation --leaf-nats "build/nats-servers/$version/nats-server" \
        --hub-nats "build/nats-servers/$newest/nats-server" --rotate "$mode" --rotations "$rotations" "${extra[@]}" \
        2>/dev/null | grep '^ROTATION' || true)
      [ -n "$line" ] || { echo "$version $mode $reconnect: failed"; continue; }
      get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
      printf '%-8s %-7s %-10s %-13s %-11s %-17s %-19s %s\n' "$version" "$mode" "$reconnect" "$(get moves)" "$(get sent)" \
        "$(get lost_per_rotation)" "$(get longest_loss_ms)" "$(get agent_gap_ms)"
    done
  done
done <build/nats-servers/versions
echo "(hub: nats-server $newest; lost/rotation: the mean of both directions; longest loss: up/down)"
