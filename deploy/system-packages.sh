#!/usr/bin/env bash
# The Debian packages arus builds and runs with, installed when any is missing
# (setup and the test command both call this; nothing else installs them).
#   build-essential, pkg-config: the bundled librdkafka; mold: a faster linker
#   (.cargo/config.toml); tesseract-ocr + its English and Indonesian models:
#   receipt and cash-book OCR; libtesseract-dev, libleptonica-dev and
#   libclang-dev: the tesseract crate's bindings are generated (bindgen) and
#   linked against them; fonts-dejavu-core: the receipt tests draw their
#   receipts with it.
set -euo pipefail
packages=(build-essential pkg-config mold curl
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-ind libtesseract-dev libleptonica-dev libclang-dev clang
  fonts-dejavu-core postgresql-client chromium-headless-shell wrk)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
