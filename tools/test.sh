#!/usr/bin/env bash
# The README's second command: build and run the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DDSVL_BUILD_TESTS=ON "$@" >/dev/null
cmake --build build-test -j"$(nproc)"
ctest --test-dir build-test --output-on-failure
