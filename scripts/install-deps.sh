#!/usr/bin/env bash
# Installs what leaf-agent needs to build and test, from Debian packages: only the packages that
# are missing. The names resolve on Debian 12 (bookworm) and 13 (trixie). Works as root or through
# sudo. When apt fails, says which step failed and apt's own errors.
#   scripts/install-deps.sh              the build's and the tests' packages
#   scripts/install-deps.sh PACKAGE...   those packages instead (scripts/container-engine.sh)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libnats-dev libsodium-dev libssl-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  doctest-dev libcli11-dev nlohmann-json3-dev libcurl4-openssl-dev libkainjow-mustache-dev
  nats-server openssl ca-certificates curl iproute2 python3 python3-yaml
  clang libclang-rt-dev  # scripts/fuzz.sh: libFuzzer, ASan, UBSan (the release's default clang: 14, 19)
)
[ $# -eq 0 ] || packages=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
update_log=$(mktemp -t install-deps.XXXXXX)
log=$(mktemp -t install-deps.XXXXXX)
trap 'rm -f "$update_log" "$log"' EXIT
# apt's errors and warnings (E:, W:, dpkg's) in LOG and, when it printed none, the end of LOG.
apt_errors() {
  local errors
  errors=$(grep -E '^(E|W): |^dpkg: |[Ee]rror' "$1" | head -n "$2" || true)
  if [ -n "$errors" ]; then echo "$errors" >&2; else tail -n "$2" "$1" >&2; fi
}
echo "install-deps: installing ${missing[*]}" >&2
# A source that fails to update need not stop the install (apt-get update even exits 0 when it could
# not fetch an index): its errors are shown when the install then fails.
"${sudo[@]}" apt-get update -qq >"$update_log" 2>&1 || echo "install-deps: apt-get update failed (exit $?); trying the install anyway" >&2
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
  >"$log" 2>&1; then
  if grep -qE '^(E|W): ' "$update_log"; then
    echo "install-deps: apt-get update said:" >&2
    apt_errors "$update_log" 10
  fi
  echo "install-deps: apt-get install said:" >&2
  apt_errors "$log" 20
  echo "install-deps: apt-get install failed for: ${missing[*]}" >&2
  exit 1
fi
