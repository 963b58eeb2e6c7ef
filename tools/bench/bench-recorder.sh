#!/usr/bin/env bash
# bench-recorder.sh — drop recorder under a drop flood: forwarding with the recorder on vs off,
# and the recorder's disk use against its cap (issue 5, last "Done when").
#
# Purpose: measure that a flood of dropped frames at full rate keeps `tapwall run --drops`
# inside its disk cap and leaves forwarding throughput within 10% of the same run with the
# recorder off. Same namespace topology as bench-bridge.sh (ns lan: lan0 192.0.2.1 <veth>
# eth0, ns br: tapwall afpacket with tools/golden/seed-firewall.sh, ns guest: gst0 192.0.2.2
# <veth> tap0; offloads off), rebuilt for every trial. Configurations, rotated each repeat:
#   off       no --drops
#   on        --drops DIR --drops-file-mb 1 --drops-files 4 --drops-rate 100000 (cap 4 MiB,
#             rotates about every 1 MiB)
#   default   --drops DIR --drops-file-mb 1 --drops-files 4 (default rate, 1000 frames/s)
# Tests per trial (details in recorder_bench.py's header):
#   mix  one trafgen alternating 64 B UDP to port 53 (dropped by the seed) and to port 5000
#        (forwarded); forwarded frames/s counted at the guest's gst0 rx.
#   tcp  trafgen flooding port 53 only while iperf3 runs guest -> LAN.
# Recorder counters (recorded, skipped by rate limit / queue full) from the --metrics
# endpoint, `tapwall ctl --json show drops` after the traffic; the drop directory's size
# (files and `du -sb`), sampled every 0.1 s for the peak, checked against files x size +
# one record. Output: a table on stdout, JSON (default bench-results/recorder.json);
# progress on stderr. Exit status 3 if the cap was exceeded in any trial.
#
# usage: tools/bench/bench-recorder.sh [--quick] [--repeats N] [--duration S]
#          [--drop-per-fwd K] [--configs off,on,default] [--skip mix,tcp] [--json PATH]
#          [--tapwall BINARY | --build-dir DIR] [--prefix NS] [--pin-cpu N|none]
#   --pin-cpu: the CPU all of tapwall's threads run on (taskset; default 1 on a multi-core
#   machine, trafgen runs on CPU 0), `none` to let the scheduler place them.
# Environment equivalents: REPEATS, DURATION, DROP_PER_FWD, CONFIGS, SKIP, OUT_JSON, TAPWALL,
# PIN_CPU.
# Needs root, trafgen (netsniff-ng), iperf3, ethtool, curl. Traffic stays inside the
# namespaces it creates, documentation addresses only; floods are bounded in time and
# count. Everything it starts and creates (processes, namespaces, drop files) is removed
# on exit, also on failure or Ctrl-C (logs are kept on failure).
# Full run (3 repeats x 3 configurations, 5 s windows): about 2 minutes; --quick (1 repeat,
# 1 s windows) about 15 s.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
REPEATS=${REPEATS:-3}
DURATION=${DURATION:-5}
DROP_PER_FWD=${DROP_PER_FWD:-1}
CONFIGS=${CONFIGS:-off,on,default}
SKIP=${SKIP:-}
OUT_JSON=${OUT_JSON:-$REPO/bench-results/recorder.json}
TAPWALL=${TAPWALL:-}
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
PREFIX=${PREFIX:-twr$$}
PIN_CPU=${PIN_CPU:-}
MODE=full

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick; REPEATS=1; DURATION=1 ;;
    --repeats) REPEATS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --drop-per-fwd) DROP_PER_FWD=$2; shift ;;
    --configs) CONFIGS=$2; shift ;;
    --skip) SKIP=$2; shift ;;
    --json) OUT_JSON=$2; shift ;;
    --tapwall) TAPWALL=$2; shift ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    --prefix) PREFIX=$2; shift ;;
    --pin-cpu) PIN_CPU=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-recorder.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

SELF=bench-recorder.sh
. "$HERE/bench-common.sh"
bench_preflight

need=()
command -v trafgen >/dev/null || need+=(netsniff-ng)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v ethtool >/dev/null || need+=(ethtool)
command -v curl >/dev/null || need+=(curl)
command -v /usr/bin/python3 >/dev/null || need+=(python3)
bench_install "${need[@]}"
PY=/usr/bin/python3

bench_tapwall

BENCH_CLEANUP_EXTRA='rm -rf "$WORK"/drops-*  # the drop files (up to 4 MiB per trial) are never kept'
bench_workdir twr-bench

mkdir -p "$(dirname "$OUT_JSON")"
set +e
"$PY" "$HERE/recorder_bench.py" --tapwall "$TAPWALL" --rules "$REPO/tools/golden/seed-firewall.sh" \
  --json "$OUT_JSON" --workdir "$WORK" --pidfile "$PIDFILE" --prefix "$PREFIX" --repeats "$REPEATS" \
  --duration "$DURATION" --drop-per-fwd "$DROP_PER_FWD" --configs "$CONFIGS" --skip "$SKIP" \
  --mode "$MODE" --git "$GIT" ${PIN_CPU:+--pin-cpu "$PIN_CPU"} &
DRIVER=$!
wait "$DRIVER"
RC=$?
DRIVER=""
set -e
LOGDIR="${OUT_JSON%.json}-logs"
rm -rf "$LOGDIR"; mkdir -p "$LOGDIR"
cp "$WORK"/tapwall-*.log "$LOGDIR"/ 2>/dev/null || true
exit "$RC"
