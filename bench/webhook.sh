#!/usr/bin/env bash
# The WhatsApp webhook benchmark in one command: installs tansu when missing,
# builds arus in release mode and runs `arus bench webhook`, which posts
# 20,000 signed WAHA message events to POST /webhooks/waha from 16
# connections (no router running: the answer waits only for the broker) and
# prints deliveries/s, p50/p90/p99, and how many reached arus.wa.inbound.v1.
#
#   bash bench/webhook.sh [--requests N] [--concurrency C] [--port P]
#
# Set CARGO_TARGET_DIR to build elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
deploy/kafka-dev.sh install
cargo build --release --bin arus
exec "${CARGO_TARGET_DIR:-target}/release/arus" bench webhook "$@"
