#!/usr/bin/env bash
# Every test of the workspace, against a real Kafka-protocol broker (tansu on
# loopback, memory storage) started here and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

deploy/system-packages.sh
deploy/kafka-dev.sh install
deploy/pytools.sh

dir=$(mktemp -d /tmp/arus-test-broker.XXXXXX)
port=${ARUS_TEST_BROKER_PORT:-19392}
trap 'deploy/kafka-dev.sh stop "$dir"; rm -rf "$dir"' EXIT
# Assigned first: `export VAR=$(…)` would hide a broker that failed to start.
brokers=$(deploy/kafka-dev.sh start "$port" memory "$dir")
export ARUS_KAFKA_BROKERS=$brokers
echo "test broker: $ARUS_KAFKA_BROKERS"
# One OpenMP thread per Tesseract engine (libgomp reads this when the test
# binaries load; `arus` sets it for itself, see ocr::engine::limit_threads).
export OMP_THREAD_LIMIT=1
cargo test --workspace --no-fail-fast -- --test-threads=2 "$@"
