#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job: a DeepSeek-VL
# model answering a question about a picture. The model is examples/models/shapes-vl, a small
# model of the DeepSeek-VL-1.3B architecture trained on drawn scenes (docs/demo.md); point
# --model at deepseek-ai/deepseek-vl-1.3b-chat, deepseek-vl2-tiny, ... for real photographs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDSVL_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target dsvl_cli
echo "dsvl run --model examples/models/shapes-vl --image examples/images/shapes-1.png --prompt \"What colour is the circle?\"" >&2
exec ./build/examples/dsvl run --model examples/models/shapes-vl --image examples/images/shapes-1.png \
  --prompt "What colour is the circle?" "$@"
