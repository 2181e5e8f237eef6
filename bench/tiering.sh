#!/usr/bin/env bash
# The tiering benchmark in one command: installs tansu when missing, builds
# arus in release mode and runs `arus bench tiering`, which generates a loan
# book of 50,000 partners, loads it onto its own tansu, times the tiering
# job through it (bills/s), then has 2,000 partners below Gold pay up at 200
# a second and times each payment to its new tier in a DataFusion query
# (p50/p99). Targets: ≥ 100,000 bills/s and p99 ≤ 2 s.
#
#   bash bench/tiering.sh [--customers N] [--samples N] [--rate R] [--json]
#
# Set CARGO_TARGET_DIR to build elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
deploy/kafka-dev.sh install
cargo build --release --bin arus
exec "${CARGO_TARGET_DIR:-target}/release/arus" bench tiering "$@"
