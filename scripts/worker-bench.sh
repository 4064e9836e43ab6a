#!/usr/bin/env bash
# The worker's DynamoDB benchmark: N changed users through the worker in SQS-sized batches over the
# DynamoDB store on moto, every DynamoDB request counted at the SDK client. Prints requests per
# changed user by operation, and the wall time.
# Usage: scripts/worker-bench.sh [USERS]   (default 2000; BATCH=100)
# A benchmark, not a test: run by hand. Needs the moto server of scripts/setup-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-test.sh
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
port=${MOTO_PORT:-5079}
export RISKRELAY_TEST_MOTO_URL="http://127.0.0.1:$port"
if ! curl -sf -o /dev/null "$RISKRELAY_TEST_MOTO_URL/moto-api/"; then
  .tools/venv/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  moto=$!
  trap 'kill "$moto" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf -o /dev/null "$RISKRELAY_TEST_MOTO_URL/moto-api/" && break; sleep 0.1; done
fi
RISKRELAY_BENCH_USERS=${1:-2000} RISKRELAY_BENCH_BATCH=${BATCH:-100} bench_test worker_dynamodb_benchmark 2>&1 \
  | grep -E 'worker-bench: |panicked'
