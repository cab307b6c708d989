#!/usr/bin/env bash
# A nats-server release Debian does not ship (2.11, 2.12, 2.13...), built from its tag for the
# release matrix: Debian's Go (sid) and Debian's packages of nats-server's dependencies, in GOPATH
# mode (no module proxy, nothing installed system-wide: apt only downloads into DIR/.apt, as in
# scripts/nats-servers.sh). The source comes from a nats-server git clone you have: it cannot be
# fetched here. Debian's dependencies are newer than the tag pins; the server built is that tag's
# code.
#
#   scripts/build-nats-server.sh CLONE TAG [DIR]     e.g. ~/src/nats-server v2.12.8
#
# Puts DIR/<version>/nats-server (default DIR: build/nats-servers) with a built-from-tag marker,
# which scripts/nats-servers.sh keeps in DIR/versions; re-run cmake to register the release.
set -euo pipefail
cd "$(dirname "$0")/.."
clone=${1:?usage: scripts/build-nats-server.sh CLONE TAG [DIR]}
tag=${2:?usage: scripts/build-nats-server.sh CLONE TAG [DIR]}
dir=${3:-build/nats-servers}
version=${tag#v}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "build-nats-server: $tag is not a release tag (vX.Y.Z)" >&2; exit 2; }
git -C "$clone" rev-parse -q --verify "refs/tags/$tag" >/dev/null ||
  { echo "build-nats-server: $clone has no tag $tag (git fetch --tags there)" >&2; exit 2; }
scripts/nats-servers.sh "$dir" >/dev/null   # the apt setup (DIR/.apt) and Debian's own releases
dir=$(cd "$dir" && pwd)
apt_dir=$dir/.apt
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Dir::State::status=/dev/null
  -o Debug::NoLocking=1 -o Acquire::Languages=none -o APT::Sandbox::User="$(id -un)" -qq
  -o Acquire::Check-Valid-Until=false)

work=$dir/.build-$version
rm -rf "$work" && mkdir -p "$work/debs" "$work/root" "$work/gopath/src/github.com/nats-io/nats-server/v2"
trap 'rm -rf "$work"' EXIT
# The newest Go in Debian, and every golang-*-dev package the tag's go.mod names.
go_pkg=$(apt-cache "${apt_opts[@]}" search --names-only '^golang-1\.[0-9]+-go$' | cut -d' ' -f1 | sort -V | tail -1)
src_pkg=${go_pkg%-go}-src
deps=(golang-github-klauspost-compress-dev golang-github-minio-highwayhash-dev golang-github-nats-io-jwt-dev
  golang-github-nats-io-go-nats-dev golang-github-nats-io-nkeys-dev golang-github-nats-io-nuid-dev
  golang-golang-x-crypto-dev golang-golang-x-sys-dev golang-golang-x-time-dev)
mod=$(git -C "$clone" show "$tag:go.mod")
grep -q antithesis-sdk-go <<<"$mod" && deps+=(golang-github-antithesishq-antithesis-sdk-go-dev)
grep -q google/go-tpm <<<"$mod" && deps+=(golang-github-google-go-tpm-dev)
grep -q automaxprocs <<<"$mod" && deps+=(golang-uber-automaxprocs-dev)
(cd "$work/debs" && apt-get "${apt_opts[@]}" download "$go_pkg" "$src_pkg" "${deps[@]}")
for d in "$work/debs"/*.deb; do dpkg-deb -x "$d" "$work/root"; done
goroot=$(find "$work/root/usr/lib" -maxdepth 1 -name 'go-1.*' | sort -V | tail -1)
git -C "$clone" archive "$tag" | tar -x -C "$work/gopath/src/github.com/nats-io/nats-server/v2"
(cd "$work/gopath/src/github.com/nats-io/nats-server/v2" &&
  env GOROOT="$goroot" GOPATH="$work/gopath:$work/root/usr/share/gocode" GO111MODULE=off GOTOOLCHAIN=local \
    GOCACHE="$work/cache" CGO_ENABLED=0 GOFLAGS= "$goroot/bin/go" build -trimpath -o "$work/nats-server" .)
got=$("$work/nats-server" --version)
[ "$got" = "nats-server: v$version" ] || { echo "build-nats-server: the build says '$got', want v$version" >&2; exit 1; }
mkdir -p "$dir/$version"
mv "$work/nats-server" "$dir/$version/nats-server"
echo "$tag $(git -C "$clone" rev-parse "$tag^{commit}") $(basename "$goroot")" >"$dir/$version/built-from-tag"
scripts/nats-servers.sh "$dir"
