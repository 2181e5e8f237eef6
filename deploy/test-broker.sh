# Sourced, not run: what the test command and the reliability suite share.
# Installs what the tests need (Debian packages, tansu, the Python tools) and
# starts a broker of the caller's own (tansu on loopback, memory storage),
# stopped and removed when the calling shell exits; exports
# ARUS_KAFKA_BROKERS and one OpenMP thread per Tesseract engine (libgomp
# reads it when the test binaries load; `arus` sets it for itself, see
# ocr::engine::limit_threads).
#
#   . deploy/test-broker.sh NAME PORT      (from the repository's root)
deploy/system-packages.sh
deploy/kafka-dev.sh install
deploy/pytools.sh

arus_broker_dir=$(mktemp -d "/tmp/arus-$1-broker.XXXXXX")
trap 'deploy/kafka-dev.sh stop "$arus_broker_dir"; rm -rf "$arus_broker_dir"' EXIT
# Assigned first: `export VAR=$(…)` would hide a broker that failed to start.
arus_brokers=$(deploy/kafka-dev.sh start "$2" memory "$arus_broker_dir")
export ARUS_KAFKA_BROKERS=$arus_brokers
export OMP_THREAD_LIMIT=1
echo "$1 broker: $ARUS_KAFKA_BROKERS"
