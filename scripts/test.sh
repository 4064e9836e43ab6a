#!/usr/bin/env bash
# Runs every check CI runs, on a fresh machine or a developer's: installs the pinned test tools
# (once, into .tools/ and tools/validators/node_modules), starts moto on 127.0.0.1, then runs
# rustfmt, clippy, the test suite, the payload validators, the browser test of the action pages
# and the infrastructure linters.
# Stops what it started, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The AWS SDK must never reach for instance metadata or a real endpoint.
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0
export RISKRELAY_PAYLOAD_DIR="$ROOT/target/payloads"

scripts/setup-tools.sh

MOTO_PORT=${MOTO_PORT:-5077}
LOG_DIR="$ROOT/target/test-logs"
mkdir -p "$LOG_DIR"
.tools/venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$LOG_DIR/moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" && break
  sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" || { echo "moto did not start; see $LOG_DIR/moto.log" >&2; exit 1; }
export RISKRELAY_TEST_MOTO_URL="http://127.0.0.1:$MOTO_PORT"

echo "== rustfmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "== tests"
rm -rf "$RISKRELAY_PAYLOAD_DIR"
cargo test --locked --workspace --no-run
# The two integration-test binaries (the application's, the command's) spend their time waiting
# on vendor pacing, retries and the soak's kills rather than computing: run them side by side.
# The command's output is shown once it is done.
CLI_LOG="$LOG_DIR/cli-tests.log"
cargo test --locked -p riskrelay-cli >"$CLI_LOG" 2>&1 &
CLI_PID=$!
trap 'kill "$MOTO_PID" "$CLI_PID" 2>/dev/null || true' EXIT
cargo test --locked --workspace --exclude riskrelay-cli
cli_status=0
wait "$CLI_PID" || cli_status=$?
echo "== tests of the riskrelay command"
cat "$CLI_LOG"
[ "$cli_status" -eq 0 ] || { echo "the riskrelay command's tests failed" >&2; exit 1; }
if [ -d tools/validators/checks ]; then
  for check in tools/validators/checks/*.sh; do
    echo "== $(basename "$check" .sh)"
    "$check"
  done
fi
echo "== browser: the action pages in headless chromium (selenium)"
.tools/venv/bin/python tools/browser/actions_flow.py target/debug/riskrelay target/browser
echo "== infrastructure (sam validate --lint, checkov)"
scripts/check-infra.sh
echo "== all checks passed"
