# bench-common.sh: what the live bench scripts (bench-bridge.sh, bench-recorder.sh) share,
# sourced by them: root and namespace checks, installing their tools, building or finding
# the tapwall binary, and a cleanup that stops only what the run started.
# Expects: SELF (script name for messages), REPO, BUILD_DIR, TAPWALL (may be empty), PREFIX.
# Sets: TAPWALL (absolute), GIT (short HEAD, +dirty), WORK, PIDFILE; traps EXIT/INT/TERM.

bench_preflight() {
  [ "$(id -u)" = 0 ] || { echo "$SELF: needs root (network namespaces)" >&2; exit 1; }
  local n
  for n in lan br guest; do
    if ip netns list | grep -qw "^$PREFIX-$n"; then
      echo "$SELF: namespace $PREFIX-$n exists: another run? choose --prefix" >&2; exit 1
    fi
  done
}

# bench_install PACKAGE...: apt-get install (update first only if that fails).
bench_install() {
  [ $# -gt 0 ] || return 0
  echo "$SELF: installing $*" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
  }
}

bench_tapwall() {
  if [ -z "$TAPWALL" ]; then
    echo "$SELF: building tapwall (Release) in $BUILD_DIR" >&2
    cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DTAPWALL_BENCH=OFF >/dev/null
    cmake --build "$BUILD_DIR" --target tapwall -j"$(nproc)" >/dev/null
    TAPWALL=$BUILD_DIR/tapwall
  fi
  [ -x "$TAPWALL" ] || { echo "$SELF: no tapwall binary at $TAPWALL" >&2; exit 1; }
  TAPWALL=$(readlink -f "$TAPWALL")
  GIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then GIT="$GIT+dirty"; fi
}

# bench_workdir TAG: a work dir and the cleanup trap. BENCH_CLEANUP_EXTRA (optional) is a
# command run during cleanup before the work dir is removed.
bench_workdir() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  PIDFILE=$WORK/pids
  : >"$PIDFILE"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local rc=$? pid n
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
  if [ -n "${BENCH_CLEANUP_EXTRA:-}" ]; then eval "$BENCH_CLEANUP_EXTRA"; fi
  if [ "$rc" = 0 ]; then rm -rf "$WORK"; else echo "$SELF: failed ($rc); logs kept in $WORK" >&2; fi
  exit "$rc"
}
