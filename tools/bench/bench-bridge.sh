#!/usr/bin/env bash
# bench-bridge.sh — live bridge benchmark: tapwall against the kernel br0 it replaces.
#
# Purpose: one command for DESIGN.md §4 "System" figures. It builds tapwall (Release),
# builds the seed testbed's namespace topology (ns lan: lan0 192.0.2.1 <veth> eth0, ns br:
# the bridge, ns guest: gst0 192.0.2.2 <veth> tap0; offloads off), and for each repeat runs,
# in a rotating order, four configurations on identical traffic:
#   kernel    br0 + br_netfilter + tools/golden/seed-firewall.sh (= seed-testbed.sh up kernel)
#   nofilter  tapwall run --no-filter --backend afpacket (userspace ceiling)
#   afpacket  tapwall run --rules seed-firewall.sh --backend afpacket
#   pcap      tapwall run --rules seed-firewall.sh --backend pcap
# What is measured (details in bridge_bench.py's header and README.md):
#   64-byte UDP frames/s LAN->guest delivered (counted at gst0 rx), one flow and 10k flows
#   (trafgen); the drop path (UDP to port 53, which the seed drops): frames/s processed and
#   bridge CPU (kernel: softirq from /proc/stat; tapwall: /proc/PID/stat utime+stime);
#   iperf3 TCP guest->LAN with offloads off and on; ping guest->LAN p50/p99 idle and under
#   iperf3 load. Medians over REPEATS, ratios to the kernel and to the no-filter baseline.
# Output: a table on stdout, JSON (default bench-results/bridge.json), PNG chart (default
# bench-results/bridge.png); progress on stderr.
#
# usage: tools/bench/bench-bridge.sh [--quick] [--repeats N] [--duration S] [--pings N]
#          [--flows N] [--configs kernel,nofilter,afpacket,pcap] [--skip TEST,...]
#          [--json PATH] [--png PATH] [--tapwall BINARY | --build-dir DIR] [--prefix NS]
#          [--tw-stats metrics|ctl|none]   (how tapwall's counters are read; default metrics)
# Environment equivalents: REPEATS, DURATION, PINGS, FLOWS, CONFIGS, OUT_JSON, OUT_PNG, TAPWALL.
# Needs root. Traffic stays inside the namespaces it creates (PREFIX-lan/br/guest) and uses
# documentation addresses only; floods are bounded in time and count. Everything it starts
# and creates is removed on exit, also on failure or Ctrl-C.
# A full run (3 repeats x 4 configurations, 4 s windows) takes about 9 minutes; --quick
# (1 repeat, 2 s windows, 100 pings) about 2 minutes.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
REPEATS=${REPEATS:-3}
DURATION=${DURATION:-4}
PINGS=${PINGS:-200}
FLOWS=${FLOWS:-10000}
CONFIGS=${CONFIGS:-kernel,nofilter,afpacket,pcap}
SKIP=${SKIP:-}
OUT_JSON=${OUT_JSON:-$REPO/bench-results/bridge.json}
OUT_PNG=${OUT_PNG:-$REPO/bench-results/bridge.png}
TAPWALL=${TAPWALL:-}
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
PREFIX=${PREFIX:-twb$$}
TW_STATS=${TW_STATS:-metrics}
MODE=full

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick; REPEATS=1; DURATION=2; PINGS=100 ;;
    --repeats) REPEATS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --pings) PINGS=$2; shift ;;
    --flows) FLOWS=$2; shift ;;
    --configs) CONFIGS=$2; shift ;;
    --skip) SKIP=$2; shift ;;
    --json) OUT_JSON=$2; shift ;;
    --png) OUT_PNG=$2; shift ;;
    --tapwall) TAPWALL=$2; shift ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    --prefix) PREFIX=$2; shift ;;
    --tw-stats) TW_STATS=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-bridge.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

SELF=bench-bridge.sh
. "$HERE/bench-common.sh"
bench_preflight

need=()
command -v trafgen >/dev/null || need+=(netsniff-ng)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v ethtool >/dev/null || need+=(ethtool)
command -v iptables >/dev/null || need+=(iptables)
PY=""
for c in /usr/bin/python3 python3; do  # Debian's python3-matplotlib lives in the system python
  if command -v "$c" >/dev/null && "$c" -c 'import matplotlib' 2>/dev/null; then PY=$c; break; fi
done
[ -n "$PY" ] || need+=(python3 python3-matplotlib)
bench_install "${need[@]}"
[ -n "$PY" ] || PY=/usr/bin/python3

# ---- tapwall ------------------------------------------------------------------------------
bench_tapwall

# ---- run, cleaning up whatever happens -------------------------------------------------------
bench_workdir twb-bench

mkdir -p "$(dirname "$OUT_JSON")" "$(dirname "$OUT_PNG")"
RAW=$WORK/raw.json
"$PY" "$HERE/bridge_bench.py" --tapwall "$TAPWALL" --rules "$REPO/tools/golden/seed-firewall.sh" \
  --raw "$RAW" --workdir "$WORK" --pidfile "$PIDFILE" --prefix "$PREFIX" --repeats "$REPEATS" \
  --duration "$DURATION" --pings "$PINGS" --flows "$FLOWS" --configs "$CONFIGS" --skip "$SKIP" \
  --mode "$MODE" --git "$GIT" --tw-stats "$TW_STATS" &
DRIVER=$!
wait "$DRIVER"
DRIVER=""
# Keep tapwall's own logs of this run beside the results (crash evidence).
LOGDIR="${OUT_JSON%.json}-logs"
rm -rf "$LOGDIR"; mkdir -p "$LOGDIR"
cp "$WORK"/tapwall-*.log "$LOGDIR"/ 2>/dev/null || true
"$PY" "$HERE/bridge_report.py" "$RAW" --json "$OUT_JSON" --png "$OUT_PNG"
