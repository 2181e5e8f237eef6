#!/usr/bin/env bash
# The reliability suite in one command: every fault scenario against a
# broker of its own, jobs killed 10 times each (ARUS_RELIABILITY_KILLS), then
# the summary table (scenario, events, expected, found, duplicates, lost).
# CI runs the same tests with 3 kills each as part of the test command.
#   bash bench/reliability/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
. deploy/test-broker.sh reliability "${ARUS_RELIABILITY_BROKER_PORT:-19395}"
export ARUS_RELIABILITY_KILLS=${ARUS_RELIABILITY_KILLS:-10}

summary=target/tmp/reliability.tsv
mkdir -p target/tmp
rm -f "$summary"
status=0
# One scenario at a time: kills land at the moments chosen, not when the
# machine gets round to them.
cargo test --test it -- --test-threads=1 \
  crash:: scale:: faults:: reliability:: || status=$?

echo
printf '%-44s %8s %9s %7s %11s %5s\n' scenario events expected found duplicates lost
while IFS=$'\t' read -r scenario events expected found duplicates lost; do
  printf '%-44s %8s %9s %7s %11s %5s\n' "$scenario" "$events" "$expected" "$found" "$duplicates" "$lost"
done < "$summary"
exit $status
