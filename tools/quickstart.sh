#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job: a DeepSeek-VL
# model on an image and a prompt. The model is the tiny random-weight fixture of the 1.3B
# architecture (tests/data/deepseek_vl/tiny-siglip), so its answer is noise; point --model at
# deepseek-ai/deepseek-vl-1.3b-chat or -7b-chat for real answers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDSVL_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target dsvl_cli
echo "dsvl run on tests/data/deepseek_vl/tiny-siglip (random weights: the answer is noise)" >&2
exec ./build/examples/dsvl run --model tests/data/deepseek_vl/tiny-siglip --image tests/data/deepseek_vl/image.png \
  --prompt "Describe this image." --max-new-tokens 32 "$@"
