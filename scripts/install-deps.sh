#!/usr/bin/env bash
# Installs what leaf-agent needs to build and test, from Debian bookworm packages: only the
# packages that are missing. Works as root or through sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libnats-dev libsodium-dev libssl-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  doctest-dev libcli11-dev nlohmann-json3-dev libcurl4-openssl-dev libkainjow-mustache-dev
  nats-server openssl ca-certificates curl iproute2 python3 python3-yaml
  clang-14 libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer, ASan, UBSan
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
