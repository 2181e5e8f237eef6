#!/usr/bin/env bash
# Local Kafka-protocol broker for development and tests: tansu 0.6 on loopback.
#
#   deploy/kafka-dev.sh install            install tansu (cargo) when missing
#   deploy/kafka-dev.sh start [PORT] [memory|sqlite] [DIR]
#                                          start it in the background; prints 127.0.0.1:PORT
#   deploy/kafka-dev.sh stop [DIR]         stop the broker started from DIR
#
# Defaults: PORT 19092, memory storage, DIR ./data/kafka-dev. tansu 0.6 does not
# create topics on first use; `arus topics create` (and every arus process that
# needs them) creates them.
set -euo pipefail

TANSU_VERSION=0.6.0
export PATH="$HOME/.cargo/bin:$PATH"

install() {
  if command -v tansu >/dev/null 2>&1 && tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    return 0
  fi
  echo "installing tansu $TANSU_VERSION (a release build, about 10 minutes)…" >&2
  cargo install --locked tansu --version "$TANSU_VERSION" --features dynostore,libsql \
    || cargo install tansu --version "$TANSU_VERSION" --features dynostore,libsql
}

start() {
  local port=${1:-19092} storage=${2:-memory} dir=${3:-./data/kafka-dev}
  install
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/tansu.pid" ] && kill -0 "$(cat "$dir/tansu.pid")" 2>/dev/null; then
    echo "a broker from $dir is already running (pid $(cat "$dir/tansu.pid"))" >&2
    echo "127.0.0.1:$port"
    return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use" >&2
    exit 1
  fi
  local engine
  case "$storage" in
    memory) engine="memory://tansu/" ;;
    sqlite) engine="sqlite://tansu.db" ;;  # relative to the working directory (tansu 0.6)
    *) echo "storage must be memory or sqlite" >&2; exit 2 ;;
  esac
  # The whole group is redirected and tansu exec'd, so nothing holds the
  # caller's stdout (callers read this script's output with $(…)) and the
  # recorded pid is tansu's own.
  (cd "$dir" && RUST_LOG=warn exec tansu broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "$engine") >"$dir/tansu.log" 2>&1 </dev/null &
  echo $! >"$dir/tansu.pid"
  local pid
  pid=$(cat "$dir/tansu.pid")
  for _ in $(seq 1 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "127.0.0.1:$port"
      return 0
    fi
    sleep 0.05
  done
  echo "tansu did not start; see $dir/tansu.log" >&2
  tail -20 "$dir/tansu.log" >&2 || true
  exit 1
}

stop() {
  local dir=${1:-./data/kafka-dev}
  if [ -f "$dir/tansu.pid" ]; then
    kill "$(cat "$dir/tansu.pid")" 2>/dev/null || true
    rm -f "$dir/tansu.pid"
  fi
}

cmd=${1:-}
shift || true
case "$cmd" in
  install) install ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
