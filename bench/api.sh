#!/usr/bin/env bash
# The API benchmark in one command: installs wrk (Debian) and tansu when
# missing, builds arus in release mode and runs `arus bench api`, which fills
# `transactions` with 1,000,000 rows of 1,000 people through the broker and
# enrich, then loads GET /api/v1/transactions for 30 s open and 30 s paced at
# 200 requests/s, and prints requests/s and p50/p90/p99.
#
#   bash bench/api.sh [--rows N] [--users N] [--seconds S] [--rate R] [--dir DIR] ...
#
# `--dir DIR` keeps the generated lake for the next run. Set CARGO_TARGET_DIR
# to build elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
deploy/system-packages.sh
deploy/kafka-dev.sh install
cargo build --release --bin arus
exec "${CARGO_TARGET_DIR:-target}/release/arus" bench api "$@"
