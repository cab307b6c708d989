#!/usr/bin/env bash
# The image and the compose stacks, used as a user would with plain docker / docker-compose:
#   1. builds the image (and its `demo` stage, with the leaf-echo stand-in host);
#   2. checks the image: --version of both binaries, non-root user, no library missing (ldd),
#      OCI labels, size; SIGTERM during startup (upstream not answering) stops it promptly;
#   3. compose/docker-compose.yml (dev hub, leaf, host): the leaf turns healthy, the host starts
#      only after it, a request from the hub reaches the responder in the host through the leaf,
#      `stop` stops the host before the leaf, every process runs as non-root;
#   4. compose/docker-compose.dev.yml (run --dev): the same gate, a request through the local
#      server, the same stop order;
#   5. compose/docker-compose.wasmcloud2.yml (wasmCloud 2.x hosts, wash-standin with `wash host`'s
#      flags): a leaf with local.auth = "tls" and one anonymous, each with its host; both leaves
#      healthy, a hub request answered by each host, the TLS leaf refuses a plain client, the host's
#      files 0600 while it runs and gone after the stop, hosts stopped before their leaves.
# Needs a Docker API: DOCKER_HOST, or a Docker (or podman) answering on /var/run/docker.sock. Where
# none answers, scripts/container-engine.sh installs podman, a `docker` command and docker-compose
# from Debian's packages, serves podman's Docker API and is stopped at the end (as root: this
# script runs itself through sudo for it). If containers cannot run on this machine at all, it
# says what is missing in one line and fails.
# DEBIAN=trixie builds the image on that release (--build-arg DEBIAN; default: the Dockerfile's).
# Removes every container, network and volume it created, also on failure; keeps the images.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
say() { printf '== [%3ds] %s\n' $((SECONDS - t0)) "$*"; }
fail() { echo "container-test: FAIL: $*" >&2; exit 1; }

engine=scripts/container-engine.sh
engine_sock=${LEAF_ENGINE_DIR:-/tmp/leaf-agent-engine}/podman.sock
default_debian=$(sed -n 's/^ARG DEBIAN=//p' Dockerfile)
debian=${DEBIAN:-$default_debian}
build_args=()
[ -z "${DEBIAN:-}" ] || build_args+=(--build-arg DEBIAN="$DEBIAN")
# podman's `docker build` (podman-docker) makes OCI images unless told: OCI has no HEALTHCHECK.
export BUILDAH_FORMAT=docker

docker_api() {  # a Docker API answers without our engine
  [ -n "${DOCKER_HOST:-}" ] && return 0
  if command -v curl >/dev/null; then
    curl -sf -m 5 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null 2>&1
  else  # a real docker client (podman-docker's `docker info` answers without any API)
    command -v docker >/dev/null && ! docker --version 2>/dev/null | grep -qi podman && docker info >/dev/null 2>&1
  fi
}
started_engine=0
if ! docker_api; then
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || fail "no Docker API answers, and podman (scripts/container-engine.sh) needs root or sudo"
    say "no Docker API answers: running through sudo (podman needs root)"
    keep=$(for v in DEBIAN LEAF_ENGINE_DIR LEAF_ENGINE_BASE; do [ -z "${!v:-}" ] || printf '%s,' "$v"; done)
    exec sudo ${keep:+--preserve-env="${keep%,}"} "$0" "$@"
  fi
  "$engine" check || exit 1
  # Someone else's engine (same socket) is left running at the end; one we start is stopped.
  command -v curl >/dev/null && curl -sf --unix-socket "$engine_sock" http://d/_ping >/dev/null 2>&1 || started_engine=1
  say "no Docker API answers: setting up podman's ($engine up $debian)"
  trap '[ $started_engine -eq 0 ] || "$engine" down' EXIT   # until cleanup's trap below
  env_line=$("$engine" up "$debian") || exit 1
  eval "$env_line"
fi
command -v docker >/dev/null || fail "a Docker API answers but there is no docker command"
if docker --version 2>/dev/null | grep -qi podman; then
  # podman's `docker` (podman-docker) logs an error for each container with a healthcheck where no
  # systemd times them (container-engine.sh's loop runs them): not worth showing.
  docker() { { command docker "$@" 2>&1 1>&3 3>&- | { grep -v 'unable to get systemd connection' >&2 || true; }; } 3>&1; }
fi
if command -v docker-compose >/dev/null; then
  compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  scripts/install-deps.sh docker-compose
  compose=(docker-compose)
fi

version=$(sed -n 's/^project(leaf-agent VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
image=leaf-agent:dev          # the tags compose/*.yml use
demo=leaf-agent-demo:dev
sidecar=leafct-sidecar-$$ dev=leafct-dev-$$ probe=leafct-probe-$$ w2=leafct-w2-$$
compose_sidecar=("${compose[@]}" -p "$sidecar" -f compose/docker-compose.yml)
compose_dev=("${compose[@]}" -p "$dev" -f compose/docker-compose.dev.yml)
compose_w2=("${compose[@]}" -p "$w2" -f compose/docker-compose.wasmcloud2.yml)

# The host first: podman refuses to remove a container whose network namespace another one uses,
# and docker-compose 1.x removes them in parallel.
stack_down() {
  local s
  for s in $("$@" config --services 2>/dev/null | grep '^host'); do "$@" rm -fsv "$s" >/dev/null 2>&1; done
  "$@" down -v --remove-orphans
}

cleanup() {
  local code=$?
  set +e
  if [ $code -ne 0 ]; then
    for c in "${compose_sidecar[*]}" "${compose_dev[*]}" "${compose_w2[*]}"; do $c logs --no-color --tail=40 2>/dev/null; done
  fi
  docker rm -f "$probe" >/dev/null 2>&1
  stack_down "${compose_sidecar[@]}" >/dev/null 2>&1
  stack_down "${compose_dev[@]}" >/dev/null 2>&1
  stack_down "${compose_w2[@]}" >/dev/null 2>&1
  docker volume rm -f "$probe-hub" >/dev/null 2>&1
  [ $started_engine -eq 1 ] && "$engine" down
  say "container test $([ $code -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - t0)) s"
  exit $code
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. build --------------------------------------------------------------------------------
say "building $image and $demo (Debian $debian, version $version, revision $revision)"
build() {  # the build's output only when it fails
  local log
  log=$(mktemp -t container-build.XXXXXX)
  if ! docker build "$@" "${build_args[@]}" --build-arg VERSION="$version" --build-arg REVISION="$revision" . >"$log" 2>&1; then
    tail -n 40 "$log" >&2; rm -f "$log"
    fail "docker build $* failed (the end of its output above)"
  fi
  rm -f "$log"
}
build -t "$image"
build -t "$demo" --target demo

# ---- 2. the image by itself ------------------------------------------------------------------
say "image checks"
out=$(docker run --rm "$image" --version | head -n 1)   # its second line: the nats-server it found
[ "$out" = "leaf-agent $version" ] || fail "--version printed '$out' first, want 'leaf-agent $version'"
grep -q '^nats-server: v' <<<"$(docker run --rm --entrypoint nats-server "$image" --version)" || fail "nats-server --version"
[ "$(docker run --rm --entrypoint id "$image" -u)" = 65532 ] || fail "the image does not run as uid 65532"
[ "$(docker image inspect -f '{{.Config.User}}' "$image")" = 65532:65532 ] || fail "USER is not 65532:65532"
missing=$(docker run --rm --entrypoint sh "$image" -c 'ldd /usr/local/bin/leaf-agent /usr/bin/nats-server 2>&1 | grep -F "not found"' || true)
[ -z "$missing" ] || fail "libraries missing in the image: $missing"
[ "$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$image")" = "$version" ] ||
  fail "label org.opencontainers.image.version is not $version"
size=$(docker image inspect -f '{{.Size}}' "$image")
base_name=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.base.name"}}' "$image")
base=$(docker image inspect -f '{{.Size}}' "$base_name")
say "image size $((size / 1000000)) MB: ${base_name##*/} here $((base / 1000000)) MB + $(((size - base) / 1000000)) MB of leaf-agent, nats-server and libraries"

# SIGTERM while the agent waits for an upstream that does not answer: it must stop at once.
docker volume create "$probe-hub" >/dev/null
docker run --rm --user 0:0 --entrypoint sh -v "$probe-hub:/hub" "$image" \
  -c 'leaf-agent dev-hub --dir /hub --force >/dev/null && chown -R 65532:65532 /hub'
docker run -d --name "$probe" -v "$probe-hub:/hub:ro" \
  -e LEAF_AGENT_UPSTREAM_URLS=tls://127.0.0.1:17422 -e LEAF_AGENT_UPSTREAM_CA_FILE=/hub/ca.pem \
  -e LEAF_AGENT_CREDENTIALS_FILE=/hub/leaf.creds "$image" >/dev/null
for _ in $(seq 100); do grep -qi upstream <<<"$(docker logs "$probe" 2>&1)" && break; sleep 0.1; done
[ "$(docker inspect -f '{{.State.Running}}' "$probe")" = true ] || { docker logs "$probe"; fail "the agent did not keep trying the upstream"; }
# The image's HEALTHCHECK (leaf-agent health) applies: not healthy while the upstream is down.
health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$probe")
case $health in starting | unhealthy) ;; *) fail "the container has no HEALTHCHECK from the image (health '$health')" ;; esac
start=$(date +%s%N)
docker stop -t 20 "$probe" >/dev/null
stop_ms=$((($(date +%s%N) - start) / 1000000))
say "docker stop during startup: ${stop_ms} ms, exit code $(docker inspect -f '{{.State.ExitCode}}' "$probe")"
[ $stop_ms -lt 5000 ] || fail "the agent took ${stop_ms} ms to stop on SIGTERM during startup (PID 1 signal handling?)"
docker rm -f "$probe" >/dev/null

# ---- 3. and 4. the compose stacks ------------------------------------------------------------
container() { local svc=$1; shift; "$@" ps -q "$svc"; }
# Docker says 2006-01-02T15:04:05.999999999Z, podman's `docker` 2006-01-02 15:04:05.999999999 +0000 UTC.
finished_ns() { date -d "$(docker inspect -f '{{.State.FinishedAt}}' "$1" | sed -E 's/ ([+-][0-9]{4}) [A-Z]+$/ \1/')" +%s%N; }

check_stack() {  # name, request-runner (command prefix that runs leaf-echo), compose command...
  local name=$1 requester=$2; shift 2
  local leaf host
  say "$name: up (blocks until the leaf is healthy, then starts the host)"
  "$@" up -d --no-build
  leaf=$(container leaf "$@") host=$(container host "$@")
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$leaf")" = healthy ] || fail "$name: leaf is not healthy"
  # (logs captured first: `grep -q` in a pipe would SIGPIPE docker logs and fail under pipefail)
  local logs=""
  for _ in $(seq 150); do
    logs=$(docker logs "$host" 2>&1)
    grep -q 'leaf-echo: serving demo.echo' <<<"$logs" && break
    sleep 0.2
  done
  grep -q 'leaf-echo: serving demo.echo' <<<"$logs" || { echo "$logs"; fail "$name: the host responder did not start"; }
  # The host's first act records what the leaf said at that moment: ready, so it started after.
  grep -q '^host: started; leaf-agent health: ready$' <<<"$logs" ||
    { echo "$logs"; fail "$name: the host started before the leaf was ready"; }
  for svc in $("$@" ps --services); do
    c=$(container "$svc" "$@")
    [ "$(docker inspect -f '{{.State.Running}}' "$c")" = true ] || continue
    uid=$(docker exec "$c" id -u)
    [ "$uid" != 0 ] || fail "$name: service $svc runs as root"
  done
  local reply=""
  for _ in $(seq 50); do  # the responder's interest reaches the hub shortly after it subscribed
    reply=$($requester leaf-echo request demo.echo "hello from $name" 2>/dev/null) && break
    sleep 0.2
  done
  [ "$reply" = "echo: hello from $name" ] || fail "$name: no reply through the leaf (got '$reply')"
  say "$name: request answered by the host: '$reply'"
  "$@" stop
  local host_end leaf_end
  host_end=$(finished_ns "$host") leaf_end=$(finished_ns "$leaf")
  [ "$host_end" -le "$leaf_end" ] || fail "$name: the leaf stopped before the host"
  [ "$(docker inspect -f '{{.State.ExitCode}}' "$leaf")" = 0 ] || { docker logs "$leaf"; fail "$name: the agent did not exit 0 on stop"; }
  [ "$(docker inspect -f '{{.State.ExitCode}}' "$host")" = 0 ] || fail "$name: the host did not exit 0 on stop"
  say "$name: stop: host stopped $(((leaf_end - host_end) / 1000000)) ms before the leaf; both exited 0"
  stack_down "$@"
}

hub_request() {  # runs in the hub container, as a client of the hub with the dev hub's client creds
  docker exec -e NATS_URL=tls://127.0.0.1:14222 -e NATS_CREDS=/hub/client.creds -e NATS_CA=/hub/ca.pem \
    "$(container hub "${compose_sidecar[@]}")" "$@"
}
dev_request() { docker exec "$(container host "${compose_dev[@]}")" "$@"; }

"${compose_sidecar[@]}" config -q
"${compose_dev[@]}" config -q
check_stack sidecar hub_request "${compose_sidecar[@]}"
check_stack dev dev_request "${compose_dev[@]}"

# ---- 5. wasmCloud 2.x hosts: local.auth = "tls" and anonymous ------------------------------
w2_request() {
  docker exec -e NATS_URL=tls://127.0.0.1:14222 -e NATS_CREDS=/hub/client.creds -e NATS_CA=/hub/ca.pem \
    "$(container hub "${compose_w2[@]}")" "$@"
}
"${compose_w2[@]}" config -q
say "wasmcloud2: up (two leaves, tls and anonymous, each gating a wash-standin host)"
"${compose_w2[@]}" up -d --no-build
for pair in tls anon; do
  leaf=$(container "leaf-$pair" "${compose_w2[@]}") host=$(container "host-$pair" "${compose_w2[@]}")
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$leaf")" = healthy ] || fail "wasmcloud2: leaf-$pair is not healthy"
  logs=""
  for _ in $(seq 150); do
    logs=$(docker logs "$host" 2>&1)
    grep -q 'wash-standin: host .* started' <<<"$logs" && break
    sleep 0.2
  done
  grep -q 'wash-standin: host .* started' <<<"$logs" || { echo "$logs"; fail "wasmcloud2: host-$pair did not connect"; }
  [ "$(docker exec "$host" id -u)" != 0 ] || fail "wasmcloud2: host-$pair runs as root"
  reply=""
  for _ in $(seq 50); do
    reply=$(w2_request leaf-echo request "demo.$pair" "hello $pair" 2>/dev/null) && break
    sleep 0.2
  done
  [ "$reply" = "echo: hello $pair" ] || fail "wasmcloud2: no reply from host-$pair through its leaf (got '$reply')"
  say "wasmcloud2: host-$pair answered through leaf-$pair: '$reply'"
done
tls_leaf=$(container leaf-tls "${compose_w2[@]}") tls_host=$(container host-tls "${compose_w2[@]}")
grep -q 'client certificate' <<<"$(docker logs "$tls_host" 2>&1)" || fail "wasmcloud2: host-tls connected without its certificate"
modes=$(docker exec "$tls_leaf" sh -c 'stat -c "%a %n" /run/leaf-agent/state/*.pem')
if grep -v '^600 ' <<<"$modes"; then fail "wasmcloud2: files of the TLS boundary not 0600 (above)"; fi
# A plain-text client in the TLS leaf's network namespace is refused.
if docker exec -e NATS_URL=nats://127.0.0.1:4222 "$tls_host" leaf-echo request demo.tls x >/dev/null 2>&1; then
  fail "wasmcloud2: the TLS leaf answered a plain-text anonymous client"
fi
say "wasmcloud2: TLS files 0600, a plain-text client refused"
"${compose_w2[@]}" stop
for pair in tls anon; do
  leaf=$(container "leaf-$pair" "${compose_w2[@]}") host=$(container "host-$pair" "${compose_w2[@]}")
  [ "$(finished_ns "$host")" -le "$(finished_ns "$leaf")" ] || fail "wasmcloud2: leaf-$pair stopped before its host"
  [ "$(docker inspect -f '{{.State.ExitCode}}' "$leaf")" = 0 ] || { docker logs "$leaf"; fail "wasmcloud2: leaf-$pair did not exit 0"; }
  [ "$(docker inspect -f '{{.State.ExitCode}}' "$host")" = 0 ] || { docker logs "$host"; fail "wasmcloud2: host-$pair did not exit 0"; }
done
left=$(docker run --rm --entrypoint sh -v "${w2}_leaf-tls-state:/v" "$image" -c 'ls /v/state')
if grep -E 'pem$' <<<"$left"; then fail "wasmcloud2: TLS files left in the state volume after the stop (above)"; fi
say "wasmcloud2: stop: hosts before leaves, all exited 0, the TLS files gone"
stack_down "${compose_w2[@]}"
