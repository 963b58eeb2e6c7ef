#!/usr/bin/env bash
# seeds.sh TARGET DIR: write a fuzz target's seed inputs into DIR (created if missing).
#   engine_fuzz  the golden cases' kernel-recorded input frames in its record format
#                (corpus_from_golden.py)
#   rules_fuzz   every rules file the tests load, after its family byte (1: IPv6)
# and, for either, the saved inputs tests/fuzz/regressions/TARGET-* (inputs that once
# failed, kept so every later build replays them). Used by tools/fuzz.sh and
# replay-corpus.sh.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=$1
DIR=$2
mkdir -p "$DIR"
case "$TARGET" in
  engine_fuzz)
    python3 "$REPO/tools/fuzz/corpus_from_golden.py" "$REPO/tests/golden" "$DIR" >/dev/null ;;
  rules_fuzz)
    n=0
    for f in "$REPO"/tests/rules/fixtures/*.sh "$REPO"/tests/rules/fixtures/*.rules.* \
             "$REPO"/tests/golden/*/rules.v*; do
      case "$f" in *6.sh|*.v6) fam='\001' ;; *) fam='\000' ;; esac
      n=$((n + 1))
      { printf "$fam"; cat "$f"; } >"$DIR/rules-$n"
    done ;;
  *) echo "seeds.sh: no seeds for $TARGET" >&2; exit 2 ;;
esac
if compgen -G "$REPO/tests/fuzz/regressions/$TARGET-*" >/dev/null; then
  cp "$REPO/tests/fuzz/regressions/$TARGET"-* "$DIR"/
fi
