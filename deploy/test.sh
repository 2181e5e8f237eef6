#!/usr/bin/env bash
# Every test of the workspace, against a real Kafka-protocol broker (tansu on
# loopback, memory storage) started here and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
. deploy/test-broker.sh test "${ARUS_TEST_BROKER_PORT:-19392}"
cargo test --workspace --no-fail-fast -- --test-threads=2 "$@"
