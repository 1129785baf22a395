#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job.
# Until a model runs end to end, the main job is the kernel benchmark summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDSVL_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target dsvl_cli
exec ./build/examples/dsvl bench --summary "$@"
