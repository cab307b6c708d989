#!/usr/bin/env bash
# The nats-server releases users run, from Debian's archives, unpacked into DIR (the build tree):
# bookworm's, trixie's and sid's nats-server package, each as DIR/<version>/nats-server. Nothing is
# installed system-wide: apt works on a sources list and list directory of its own (DIR/.apt) and
# only downloads; dpkg-deb unpacks. The Go binaries need only libc.
#
#   scripts/nats-servers.sh [DIR]     default DIR: build/nats-servers
#
# Prints one line per version it provides ("2.10.27 trixie"). Sid moves: whatever version a suite
# carries when this runs is the one tested (a newer upload raises the newest version tested); a
# version already unpacked is not downloaded again. DIR/versions lists what the last run found.
# NATS_SERVERS_OFFLINE=1 uses what DIR already holds (no download). Releases built from their tag
# (scripts/build-nats-server.sh) are listed too.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/nats-servers}
suites=(bookworm trixie sid)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
apt_dir=$dir/.apt

if [ "${NATS_SERVERS_OFFLINE:-0}" = 1 ]; then
  [ -s "$dir/versions" ] || { echo "nats-servers: NATS_SERVERS_OFFLINE=1 but $dir holds no servers; run without it once" >&2; exit 1; }
  cat "$dir/versions"
  exit 0
fi

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || { echo "nats-servers: $keyring missing: install debian-archive-keyring" >&2; exit 1; }
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/deb"
: >"$apt_dir/sources.list"
for s in "${suites[@]}"; do
  echo "deb [signed-by=$keyring] http://deb.debian.org/debian $s main" >>"$apt_dir/sources.list"
done
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Dir::State::status=/dev/null
  -o Debug::NoLocking=1 -o Acquire::Languages=none -o APT::Sandbox::User="$(id -un)" -qq
  -o Acquire::Check-Valid-Until=false)  # signatures are checked; a mirror's sid Release may outlive its Valid-Until

# The lists are refreshed once an hour at most: each build need not ask the archive again.
stamp=$apt_dir/lists/.updated
if [ -n "$(find "$stamp" -mmin -60 2>/dev/null)" ] && [ -n "$(find "$dir/versions" -newer "$stamp" 2>/dev/null)" ] &&
   [ -z "$(find "$dir" -mindepth 2 -maxdepth 2 -name built-from-tag -newer "$dir/versions" 2>/dev/null)" ] &&
   while read -r v _; do [ -x "$dir/$v/nats-server" ] || exit 1; done <"$dir/versions"; then
  cat "$dir/versions"   # found in the last hour's lists, all unpacked
  exit 0
fi
# The archive cannot be reached (offline, a mirror down): what an earlier run unpacked still serves,
# with a warning; with nothing unpacked yet that is an error (the release matrix has nothing to run).
use_what_is_here() {
  if [ -s "$dir/versions" ] && while read -r v _; do [ -x "$dir/$v/nats-server" ] || exit 1; done <"$dir/versions"; then
    echo "nats-servers: $1; using the releases unpacked earlier" >&2
    cat "$dir/versions"
    exit 0
  fi
  echo "nats-servers: $1" >&2
  exit 1
}
if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
  if ! out=$(apt-get "${apt_opts[@]}" update 2>&1); then
    echo "$out" | tail -5 >&2
    use_what_is_here "apt-get update of Debian ${suites[*]} failed (above)"
  fi
  touch "$stamp"
fi

found=()
madison=$(apt-cache "${apt_opts[@]}" madison nats-server)
for s in "${suites[@]}"; do
  # The suite's version, e.g. 2.10.27-1+b2 ("nats-server | 2.10.27-1+b2 | http://... trixie/main ...").
  full=$(awk -F'|' -v s=" $s/" 'index($3, s) {gsub(/ /, "", $2); print $2; exit}' <<<"$madison")
  if [ -z "$full" ]; then
    # A suite without the package (sid drops it for a while): the others are still tested.
    echo "nats-servers: Debian $s has no nats-server package now; testing the other suites' releases" >&2
    continue
  fi
  version=${full%%-*}   # upstream version: 2.10.27
  if [ ! -x "$dir/$version/nats-server" ]; then
    rm -f "$apt_dir/deb/"*.deb
    if ! out=$(cd "$apt_dir/deb" && apt-get "${apt_opts[@]}" download "nats-server=$full" 2>&1); then
      echo "$out" | tail -5 >&2
      use_what_is_here "downloading nats-server $full from Debian $s failed (above)"
    fi
    rm -rf "$dir/.unpack" && mkdir -p "$dir/.unpack"
    dpkg-deb -x "$apt_dir/deb/"nats-server_*.deb "$dir/.unpack"
    mkdir -p "$dir/$version"
    bin=$(find "$dir/.unpack" -name nats-server -type f | head -1)   # /usr/sbin in bookworm, /usr/bin later
    [ -n "$bin" ] || { echo "nats-servers: the nats-server $full package holds no nats-server binary" >&2; exit 1; }
    mv "$bin" "$dir/$version/nats-server.tmp"
    mv "$dir/$version/nats-server.tmp" "$dir/$version/nats-server"
    rm -rf "$dir/.unpack" "$apt_dir/deb/"*.deb
  fi
  got=$("$dir/$version/nats-server" --version)
  [ "$got" = "nats-server: v$version" ] || { echo "nats-servers: $dir/$version/nats-server says '$got', want v$version" >&2; exit 1; }
  found+=("$version $s")
done
[ ${#found[@]} -gt 0 ] || use_what_is_here "no Debian suite has a nats-server package"
# Releases built from their tag by scripts/build-nats-server.sh (Debian ships no 2.11 to 2.13).
for marker in "$dir"/*/built-from-tag; do
  [ -e "$marker" ] || continue
  v=$(basename "$(dirname "$marker")")
  [ -x "$dir/$v/nats-server" ] && found+=("$v tag")
done
printf '%s\n' "${found[@]}" | sort -t. -k1,1n -k2,2n -k3,3n -u >"$dir/versions.tmp"
mv "$dir/versions.tmp" "$dir/versions"
cat "$dir/versions"
