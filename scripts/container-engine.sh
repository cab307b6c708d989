#!/usr/bin/env bash
# A Docker API for scripts/container-test.sh on a machine that has none, from Debian's packages
# (bookworm or trixie): podman (rootful, runc, cgroupfs: no systemd needed) serving its
# Docker-compatible API on a socket (`podman system service`), a `docker` command (podman-docker,
# unless one is installed), docker-compose, curl, iptables (and on trixie nftables and aardvark-dns,
# for netavark). Base images are pulled from the registry; where none answers they are made offline
# with debootstrap (installed then). Healthchecks are run by a loop of this script's (podman leaves
# them to systemd timers).
#
#   eval "$(scripts/container-engine.sh up [SUITE...])"   # exports DOCKER_HOST, CONTAINERS_CONF, BUILDAH_FORMAT
#   scripts/container-engine.sh down                      # stops the service and the loop `up` started
#   scripts/container-engine.sh check                     # can containers run here? (one line if not)
#
# SUITE...: the Debian releases whose debian:SUITE and debian:SUITE-slim images builds need
# (default: bookworm). As root only: container-test.sh runs it through sudo.
# LEAF_ENGINE_DIR: the socket, config, logs and pids (default /tmp/leaf-agent-engine).
# LEAF_ENGINE_BASE=debootstrap: make the base images with debootstrap without trying the registry.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${LEAF_ENGINE_DIR:-/tmp/leaf-agent-engine}
conf=$D/containers.conf
sock=$D/podman.sock
export CONTAINERS_CONF=$conf PODMAN_IGNORE_CGROUPSV1_WARNING=1
say() { echo "container-engine: $*" >&2; }
die() { say "$*"; exit 1; }

# What containers need from the kernel and the machine, checked before anything is installed.
# Prints one line naming what is missing and fails.
check() {
  [ "$(id -u)" -eq 0 ] || die "needs root (rootful podman): run it as root or through sudo"
  local missing=() ns err
  for ns in mount uts ipc net pid; do
    # (--propagation unchanged: unshare would make / private otherwise, which fails where / is no mount)
    err=$(unshare --"$ns" --fork $([ $ns = mount ] && echo --propagation unchanged) true 2>&1) || missing+=("$ns (${err##*: })")
  done
  [ ${#missing[@]} -eq 0 ] || die "containers cannot run here: cannot create namespaces: ${missing[*]}"
  # A chroot: a container's mount namespace keeps the machine's root as its own, and what
  # `docker exec` and the healthchecks run in it lands there, outside the container.
  # Entering one's own mount namespace starts at its root: in a chroot, not the chroot's.
  local ns_root
  if ns_root=$(nsenter --mount=/proc/self/ns/mnt -- stat -c %d:%i / 2>/dev/null) && [ "$ns_root" != "$(stat -c %d:%i /)" ]; then
    die "containers cannot run here: this is a chroot (/ is not its mount namespace's root), where docker exec and healthchecks would run outside the containers"
  fi
  grep -qE '^[^ ]+ /sys/fs/cgroup[^ ]* cgroup2? ' /proc/self/mounts ||
    die "containers cannot run here: no cgroup filesystem mounted under /sys/fs/cgroup"
  if grep -qE '^[^ ]+ /sys/fs/cgroup[^ ]* cgroup2? ro[ ,]' /proc/self/mounts; then
    die "containers cannot run here: the cgroup filesystem under /sys/fs/cgroup is read-only"
  fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
install() {
  local need=() p
  for p in podman runc iptables docker-compose curl; do installed "$p" || need+=("$p"); done
  command -v docker >/dev/null || need+=(podman-docker)   # a `docker` command, where none is installed
  if [ ${#need[@]} -gt 0 ]; then
    scripts/install-deps.sh "${need[@]}"
    # podman-docker's `docker` says on every call that it is podman unless this file exists.
    if [[ " ${need[*]} " == *" podman-docker "* ]]; then mkdir -p /etc/containers && touch /etc/containers/nodocker; fi
  fi
  # trixie's podman networks with netavark (bookworm's with CNI plugins), which sets them up with nft
  # and needs aardvark-dns (only recommended) to remove a container from a network.
  need=()
  if installed netavark; then
    for p in nftables aardvark-dns; do installed "$p" || need+=("$p"); done
  fi
  [ ${#need[@]} -eq 0 ] || scripts/install-deps.sh "${need[@]}"
}

# The machine's own Debian mirror (deb822 .sources or a classic sources.list), for debootstrap.
mirror() {
  local m
  m=$({ grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
        grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1}'
      } | grep -E '/debian/?$' | head -n 1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# docker.io/library/debian:SUITE-slim and :SUITE for each SUITE: present, pulled, or made with
# debootstrap (a minbase root filesystem: apt-get works in it, as in Docker Hub's images).
base_images() {
  local suite name r m
  for suite in "$@"; do
    for name in "debian:$suite-slim" "debian:$suite"; do
      podman image exists "docker.io/library/$name" && continue
      if [ "${LEAF_ENGINE_BASE:-}" != debootstrap ] &&
        timeout 90 podman pull -q "docker.io/library/$name" >"$D/pull.log" 2>&1; then
        say "pulled $name"
        continue
      fi
      if [ "$name" = "debian:$suite" ] && podman image exists "docker.io/library/debian:$suite-slim"; then
        podman tag "docker.io/library/debian:$suite-slim" "docker.io/library/$name"   # made below: the same minbase
        continue
      fi
      [ "${LEAF_ENGINE_BASE:-}" = debootstrap ] || say "no registry answered for $name ($(tail -n 1 "$D/pull.log"))"
      command -v debootstrap >/dev/null || scripts/install-deps.sh debootstrap
      m=$(mirror)
      say "making debian:$suite-slim and debian:$suite with debootstrap from $m (a few minutes, once)"
      r=$D/rootfs-$suite
      rm -rf "$r"
      debootstrap --variant=minbase "$suite" "$r" "$m" >"$D/debootstrap-$suite.log" 2>&1 ||
        { tail -n 5 "$D/debootstrap-$suite.log" >&2; die "debootstrap $suite failed (whole log: $D/debootstrap-$suite.log)"; }
      rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin
      tar -C "$r" -c . | podman import -q -c 'CMD ["bash"]' \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "docker.io/library/debian:$suite-slim" >/dev/null
      rm -rf "$r"
      podman tag "docker.io/library/debian:$suite-slim" "docker.io/library/debian:$suite"
      break
    done
  done
}

up() {
  check
  mkdir -p "$D"
  install >&2
  # No systemd: cgroups through the filesystem, events to a file. runc is the runtime these settings
  # were checked with (bookworm's and trixie's podman). Container limits: bookworm's podman (4.3)
  # keeps the machine's own when none are set, and fails when any is (it then sets the others to
  # its defaults: "error setting rlimit type 6/7: operation not permitted" without
  # CAP_SYS_RESOURCE); trixie's (5.x) raises nofile and nproc to 1048576 and 4194304 unless told
  # the machine's own. So: none first, then the machine's own, whichever lets a container run.
  local ulimits=() hard
  hard=$(ulimit -Hn); [ "$hard" = unlimited ] || ulimits+=("\"nofile=$(ulimit -Sn):$hard\"")
  hard=$(ulimit -Hu); [ "$hard" = unlimited ] || ulimits+=("\"nproc=$(ulimit -Su):$hard\"")
  write_conf() {
    printf '[containers]\ndefault_ulimits = [%s]\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\nevents_logger = "file"\n' \
      "$1" >"$conf"
  }
  write_conf ""
  base_images "${@:-bookworm}" >&2
  # One container on the default network, to find out now, in one line, if none can run here.
  local err
  if ! err=$(podman run --rm "docker.io/library/debian:${1:-bookworm}-slim" true 2>&1); then
    if grep -q "rlimit" <<<"$err"; then
      write_conf "$(IFS=,; echo "${ulimits[*]}")"
      err=$(podman run --rm "docker.io/library/debian:${1:-bookworm}-slim" true 2>&1) ||
        die "containers cannot run here: podman run failed: $(grep -v '^$' <<<"$err" | tail -n 1)"
    else
      die "containers cannot run here: podman run failed: $(grep -v '^$' <<<"$err" | tail -n 1)"
    fi
  fi
  if ! curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
    rm -f "$sock"
    nohup podman system service --time=0 "unix://$sock" >"$D/service.log" 2>&1 &
    echo $! >"$D/service.pid"
    for _ in $(seq 100); do curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break; sleep 0.1; done
    curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 ||
      { tail -n 5 "$D/service.log" >&2; die "podman's API service did not answer on $sock (log: $D/service.log)"; }
  fi
  if ! { [ -f "$D/health.pid" ] && kill -0 "$(cat "$D/health.pid")" 2>/dev/null; }; then
    # (each step a job waited for: `down`'s SIGTERM ends the loop at once and the loop ends its job)
    nohup bash -c 'trap "kill \$(jobs -p) 2>/dev/null; exit 0" TERM
      while :; do
        for c in $(podman ps -q --filter health=starting --filter health=healthy --filter health=unhealthy 2>/dev/null); do
          podman healthcheck run "$c" >/dev/null 2>&1 & wait $!
        done
        sleep 1 & wait $!
      done' >/dev/null 2>&1 &
    echo $! >"$D/health.pid"
  fi
  # BUILDAH_FORMAT: images in Docker's format, whose config keeps HEALTHCHECK (OCI's has none), when
  # `docker build` is podman's own (podman-docker).
  echo "export CONTAINERS_CONF=$conf DOCKER_HOST=unix://$sock BUILDAH_FORMAT=docker PODMAN_IGNORE_CGROUPSV1_WARNING=1"
}

down() {
  local f pid
  for f in health.pid service.pid; do
    if [ -f "$D/$f" ]; then
      pid=$(cat "$D/$f")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$D/$f"
    fi
  done
  rm -f "$sock"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  check) check ;;
  *) echo "usage: container-engine.sh up [SUITE...] | down | check" >&2; exit 2 ;;
esac
