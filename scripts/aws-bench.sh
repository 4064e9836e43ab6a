#!/usr/bin/env bash
# The AWS path under load: the real Lambda binaries under a local Lambda Runtime API, SQS,
# DynamoDB and Secrets Manager on a moto server of its own (a fresh one for each run), and the
# simulated tenant(s) with Graph's 1 request/s rule and a slow $batch.
#   scripts/aws-bench.sh [USERS...]        poller and worker over N changed users (default 1000):
#                                          wall from the first poll request to the last worker
#                                          batch done, the Graph floor and their ratio, batches,
#                                          failures, posts, each function's peak memory
#                                          (BATCH_MS=150, WORKERS=2, BATCH=100)
#   scripts/aws-bench.sh fanout [TENANTS]  the MSP mode's tick through the FIFO queue (default
#                                          1000 tenants, CONCURRENCY=50 instances of the tenant
#                                          jobs function): wall per tick, throttled requests
# BENCH_RELEASE=1 measures the release build of the functions (target/release).
# A benchmark, not a test: run by hand on a quiet machine. Needs scripts/setup-tools.sh's moto.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
port=${MOTO_PORT:-5081}
export RISKRELAY_TEST_MOTO_URL="http://127.0.0.1:$port"
if [ -n "${BENCH_RELEASE:-}" ]; then
  # The functions as shipped, and the simulator and harness in a release build of the test binary
  # (its own target directory, no LTO): a debug simulator serving 10,000 users is slower than Graph.
  cargo build --release -p riskrelay --bin poller --bin worker
  export RISKRELAY_BENCH_BIN_DIR="$PWD/target/release"
  test_bin=$(CARGO_TARGET_DIR=${BENCH_TARGET_DIR:-target/bench} CARGO_PROFILE_RELEASE_LTO=off \
    cargo test --release -p riskrelay --test it --no-run 2>&1 | sed -n 's|.*Executable tests/it/main.rs (\(.*\))|\1|p')
  [ -x "$test_bin" ] || { echo "could not build the release test binary" >&2; exit 1; }
else
  test_bin=$(cargo test -p riskrelay --test it --no-run 2>&1 | sed -n 's|.*Executable tests/it/main.rs (\(.*\))|\1|p')
fi
run() {  # run TEST: one benchmark on a fresh moto server
  .tools/venv/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  local moto=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "$RISKRELAY_TEST_MOTO_URL/moto-api/" && break; sleep 0.1; done
  "$test_bin" "$1" --ignored --nocapture 2>&1 \
    | grep -E 'aws-bench: |fanout-bench: |panicked|assertion|^batch of' || true
  kill "$moto" 2>/dev/null || true
  wait "$moto" 2>/dev/null || true
}
if [ "${1:-}" = fanout ]; then
  RISKRELAY_BENCH_TENANTS=${2:-1000} RISKRELAY_BENCH_CONCURRENCY=${CONCURRENCY:-50} run fanout_benchmark
  exit
fi
for users in "${@:-1000}"; do
  RISKRELAY_BENCH_USERS=$users RISKRELAY_BENCH_BATCH_MS=${BATCH_MS:-150} \
    RISKRELAY_BENCH_WORKERS=${WORKERS:-2} RISKRELAY_BENCH_BATCH=${BATCH:-100} run aws_path_benchmark
done
