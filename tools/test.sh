#!/usr/bin/env bash
# The README's second command: build and run the whole test suite with ctest (g++); with CI=true
# or DSVL_SANITIZE=1, then again with clang under the sanitizers, with the fuzzers (tools/sanitize.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DDSVL_BUILD_TESTS=ON "$@" >/dev/null
cmake --build build-test -j"$(nproc)"
ctest --test-dir build-test --output-on-failure
if [ "${CI:-}" = true ] || [ "${DSVL_SANITIZE:-0}" = 1 ]; then
  bash tools/sanitize.sh
fi
