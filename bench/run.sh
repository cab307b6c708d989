#!/usr/bin/env bash
# The benchmark suite of issue #10: one table, metric / bare / agent / ratio / goal.
#   bench/run.sh [runs]           P1-P5, P7 (medians of `runs`, default 15, agent and bare alternating),
#                                 then P1 and P2 again per leaf nats-server release in build/nats-servers
#                                 (scripts/nats-servers.sh; hub: the installed nats-server; NATS_VERSIONS=0 skips)
#   P6 runs through bench/scale.sh with SCALE_N pods (default 100; root: network namespaces); SCALE_N=0 skips it
# Figures taken while other work loads the machine are noisy: the load average is printed with them.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
agent=${AGENT:-build/leaf-agent}  # AGENT=/path/to/leaf-agent compares another build
[ -x "$agent" ] || nice scripts/build.sh >/dev/null
export AGENT="$agent"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# The P1 floor (bench/floor.c): a wrapper that only execs nats-server and waits for the acceptance line.
floor=$(mktemp)
trap 'rm -f "$out" "$floor"' EXIT
cc -O2 -o "$floor" bench/floor.c
python3 bench/bench.py --agent "$agent" --runs "$runs" --idle-seconds "${IDLE_SECONDS:-20}" --floor "$floor" >"$out"
# P1 and P2 per leaf release (the releases users run: Debian bookworm's, trixie's and sid's).
if [ "${NATS_VERSIONS:-1}" != 0 ] && [ -s build/nats-servers/versions ]; then
  while read -r version _; do
    python3 bench/bench.py --agent "$agent" --runs "$runs" --p1-p2-only --leaf-nats "build/nats-servers/$version/nats-server" >>"$out"
  done <build/nats-servers/versions
fi
scale_n=${SCALE_N:-100}
if [ "$scale_n" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    bench/scale.sh "$scale_n" >>"$out"
  else
    echo "bench: P6 skipped (bench/scale.sh needs root for network namespaces)" >&2
  fi
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "leaf-agent benchmarks: $(nproc) cores, $(nats-server --version), load average before: $load_before, after: $load_after"
awk '
  $1 == "ROW" {
    ratio = ($3 == "-" || $3 + 0 == 0 || $2 ~ /^P[234]_/) ? "-" : sprintf("%.2fx", $4 / $3)
    printf "| %-32s | %10s | %10s | %7s | %-9s |\n", $2, $3, $4, ratio, $5
  }
  $1 == "NOTE" { $1 = ""; notes = notes "\n" substr($0, 2) }
  BEGIN { printf "| %-32s | %10s | %10s | %7s | %-9s |\n|%s|%s|%s|%s|%s|\n", "metric", "bare", "agent", "ratio", "goal",
          "----------------------------------", "------------", "------------", "---------", "-----------" }
  END { print notes }
' "$out"
