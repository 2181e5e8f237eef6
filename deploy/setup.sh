#!/usr/bin/env bash
# One command from a fresh Debian machine to a running arus with demo data:
# system packages, the dev broker (tansu), a release build, then `arus up --demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

deploy/system-packages.sh

deploy/kafka-dev.sh install
cargo build --release --bin arus
exec ./target/release/arus up --demo
