#!/usr/bin/env bash
# Installs every package tapwall needs to build, test and benchmark on Debian 12, with
# apt-get. Idempotent: when everything is already installed it does nothing, so the test
# and demo commands can always call it first.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config
  libpcap-dev libboost-dev libboost-system-dev libspdlog-dev libfmt-dev
  libbenchmark-dev libgtest-dev libgmock-dev nlohmann-json3-dev
  # namespace labs, golden recording, end-to-end tests
  iproute2 iptables ethtool iputils-ping tcpdump tshark python3 python3-scapy
  netcat-openbsd kmod
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the answer does not matter here.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
