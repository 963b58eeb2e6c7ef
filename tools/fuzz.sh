#!/usr/bin/env bash
# fuzz.sh [SECONDS] [TARGET...]: build the libFuzzer targets (tests/fuzz/*_fuzz.cpp) with
# clang, ASan and UBSan in build/fuzz, and run each for SECONDS (default 120) on one core.
# engine_fuzz starts from the golden cases' input frames and rules_fuzz from every rules
# file the tests load, each with its saved regressions (tools/fuzz/seeds.sh); each target
# keeps the inputs that found new coverage in build/fuzz/corpus/TARGET, so a later run goes
# on from there. A failing input is written to build/fuzz/artifacts/ and the script exits
# non-zero: minimise it (TARGET -minimize_crash=1 FILE), fix the bug, and add the input to
# tests/fuzz/regressions/ as TARGET-NAME so CTest (TARGET_corpus) replays it from then on.
# Needs clang (installed here if missing, with the build's packages). Apart from those
# packages it touches nothing outside build/fuzz and a temp dir.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_EACH=${1:-120}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(decode_fuzz engine_fuzz rules_fuzz)
case "$SECONDS_EACH" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number" >&2; exit 2 ;; esac
bash "$REPO/tools/install-deps.sh"
if ! command -v clang++ >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "fuzz.sh: clang is missing; run as root to install it" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
fi
B=$REPO/build/fuzz
cmake -S "$REPO" -B "$B" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTAPWALL_FUZZ=ON -DTAPWALL_BENCH=OFF >/dev/null
cmake --build "$B" -j"$(nproc)" --target "${TARGETS[@]}"
SEED=$(mktemp -d /tmp/tapwall-fuzz-seed.XXXXXX)
trap 'rm -rf "$SEED"' EXIT
mkdir -p "$B/artifacts"
rc=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$B/corpus/$t"
  seeds=()
  if [ "$t" != decode_fuzz ]; then
    bash "$REPO/tools/fuzz/seeds.sh" "$t" "$SEED/$t"
    seeds=("$SEED/$t")
  fi
  echo "fuzz.sh: $t for ${SECONDS_EACH} s"
  "$B/$t" -max_total_time="$SECONDS_EACH" -max_len=8192 -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$B/artifacts/$t-" "$B/corpus/$t" "${seeds[@]}" 2>"$B/$t.log" || {
    rc=1
    echo "fuzz.sh: $t failed; its log: $B/$t.log" >&2
    grep -E "ERROR|runtime error|disagree|Test unit written" "$B/$t.log" | head -5 >&2
  }
  grep -E "^stat::(number_of_executed_units|new_units_added)" "$B/$t.log" | sed "s/^/  $t /"
done
exit $rc
