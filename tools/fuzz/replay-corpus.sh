#!/usr/bin/env bash
# replay-corpus.sh TARGET RUNNER: run a fuzz target's seed inputs (seeds.sh: the golden
# cases' frames or the tests' rules files, and its saved regressions) once through RUNNER,
# the target built with tests/fuzz/run_inputs_main.cpp (TARGET_replay, in the test build)
# or with libFuzzer. The inputs go to a temporary directory, removed on exit. Used by
# CTest (engine_fuzz_corpus, rules_fuzz_corpus).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARGET=$1
RUNNER=$2
DIR=$(mktemp -d /tmp/tapwall-fuzz-corpus.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
bash "$HERE/seeds.sh" "$TARGET" "$DIR"
"$RUNNER" "$DIR"
