#!/usr/bin/env bash
# The serving benchmark in one command: installs wrk (Debian), tansu and
# DuckDB (PyPI, in .tools/venv) when missing, builds arus in release mode and
# runs `arus bench serving`: 10,000,000 transactions of 100,000 people
# generated into Delta (transactions and daily_totals, optimized), each
# dashboard endpoint under wrk at 200 requests/s (p50/p90/p99), and a
# monthly per-category aggregate through POST /api/v1/sql against DuckDB over
# the same Parquet files, as a ratio.
#
#   bash bench/serving/run.sh [--rows N] [--users N] [--seconds S] [--rate R] [--dir DIR] ...
#
# `--dir DIR` keeps the generated lake (1.2 GB) for the next run. Set
# CARGO_TARGET_DIR to build elsewhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
deploy/system-packages.sh
deploy/kafka-dev.sh install
deploy/pytools.sh
cargo build --release --bin arus
exec "${CARGO_TARGET_DIR:-target}/release/arus" bench serving "$@"
