#!/usr/bin/env bash
# The statement-import benchmark in one command: installs tansu when missing,
# builds arus in release mode and runs `arus bench import`, which writes a
# BCA CSV and a Mandiri XLSX of 1,000,000 rows, imports each the way the
# worker does (read, key, duplicate check, publish to its own tansu, every
# row acknowledged) and prints rows/s and peak RSS per format.
#
#   bash bench/import.sh [--rows N] [--formats csv,xlsx] ...
#
# Set CARGO_TARGET_DIR to build elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
deploy/kafka-dev.sh install
cargo build --release --bin arus
exec "${CARGO_TARGET_DIR:-target}/release/arus" bench import "$@"
