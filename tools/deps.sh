#!/usr/bin/env bash
# Installs, with apt-get, whichever of dsvl's build dependencies are missing (Debian 12), and the
# packages named as arguments (tools/sanitize.sh: clang). Optional, with DSVL_WITH_PDF=1:
# libpoppler-cpp-dev, with which `dsvl ocr` reads PDF files (poppler is GPL: a dsvl binary linked
# with it falls under the GPL when distributed).
set -euo pipefail
pkgs=(cmake make g++ pkg-config libxsimd-dev libhwy-dev doctest-dev nlohmann-json3-dev libopenblas-dev
      libpng-dev libjpeg62-turbo-dev "$@")
if [ "${DSVL_WITH_PDF:-0}" = 1 ]; then
  pkgs+=(libpoppler-cpp-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "dsvl: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
