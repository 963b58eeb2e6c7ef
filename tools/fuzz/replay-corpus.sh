#!/usr/bin/env bash
# replay-corpus.sh RUNNER: the engine fuzz target's differential oracle over the golden
# cases' kernel-recorded input frames (converted by corpus_from_golden.py into a temporary
# directory, removed on exit) and over the saved inputs in tests/fuzz/regressions/.
# RUNNER is engine_fuzz_replay (the target built with tests/fuzz/run_inputs_main.cpp) or a
# libFuzzer build of engine_fuzz. Used by CTest (engine_fuzz_corpus) and tools/fuzz.sh.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNNER=$1
DIR=$(mktemp -d /tmp/tapwall-fuzz-corpus.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
python3 "$REPO/tools/fuzz/corpus_from_golden.py" "$REPO/tests/golden" "$DIR" >/dev/null
inputs=("$DIR")
if compgen -G "$REPO/tests/fuzz/regressions/*" >/dev/null; then inputs+=("$REPO/tests/fuzz/regressions"); fi
"$RUNNER" "${inputs[@]}"
