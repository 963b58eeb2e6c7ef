#!/usr/bin/env bash
# The README's test command: install dependencies, build with AddressSanitizer and UBSan,
# and run the whole test suite with CTest. Run as root from the repository (the namespace
# tests need root; they create and remove their own namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
BUILD=${BUILD_DIR:-build/asan}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DTAPWALL_SANITIZE=ON -DTAPWALL_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure -j1 --timeout 900
