#!/usr/bin/env bash
# One command from a fresh Debian machine to a running arus with demo data:
# system packages, the dev broker (tansu), a release build, then `arus up --demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq
# gcc/make build the bundled librdkafka; mold links faster (see .cargo/config.toml).
$SUDO apt-get install -y -qq build-essential pkg-config mold curl >/dev/null

deploy/kafka-dev.sh install
cargo build --release --bin arus
exec ./target/release/arus up --demo
