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

[ "$(id -u)" = 0 ] || { echo "bench-recorder.sh: needs root (network namespaces)" >&2; exit 1; }
for n in lan br guest; do
  if ip netns list | grep -qw "^$PREFIX-$n"; then
    echo "bench-recorder.sh: namespace $PREFIX-$n exists: another run? choose --prefix" >&2; exit 1
  fi
done

need=()
command -v trafgen >/dev/null || need+=(netsniff-ng)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v ethtool >/dev/null || need+=(ethtool)
command -v curl >/dev/null || need+=(curl)
command -v /usr/bin/python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench-recorder.sh: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  }
fi
PY=/usr/bin/python3

if [ -z "$TAPWALL" ]; then
  echo "bench-recorder.sh: building tapwall (Release) in $BUILD_DIR" >&2
  cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DTAPWALL_BENCH=OFF >/dev/null
  cmake --build "$BUILD_DIR" --target tapwall -j"$(nproc)" >/dev/null
  TAPWALL=$BUILD_DIR/tapwall
fi
[ -x "$TAPWALL" ] || { echo "bench-recorder.sh: no tapwall binary at $TAPWALL" >&2; exit 1; }
TAPWALL=$(readlink -f "$TAPWALL")
GIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then GIT="$GIT+dirty"; fi

WORK=$(mktemp -d /tmp/twr-bench.XXXXXX)
PIDFILE=$WORK/pids
: >"$PIDFILE"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "${DRIVER:-}" ] && kill -0 "$DRIVER" 2>/dev/null; then
    kill -TERM "$DRIVER" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$DRIVER" 2>/dev/null || break; sleep 0.1; done
  fi
  # Processes the driver started and could not stop (it records their PIDs): only those
  # whose command line is still ours, so a recycled PID is never touched.
  while read -r pid; do
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || continue
    if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -e "$PREFIX-" -e "$TAPWALL"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done <"$PIDFILE"
  for n in lan br guest; do ip netns del "$PREFIX-$n" 2>/dev/null || true; done
  rm -rf "$WORK"/drops-*  # the drop files (up to 4 MiB per trial) are never kept
  if [ "$rc" = 0 ]; then rm -rf "$WORK"; else echo "bench-recorder.sh: failed ($rc); logs kept in $WORK" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
