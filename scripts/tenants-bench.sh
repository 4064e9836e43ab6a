#!/usr/bin/env bash
# The many-tenants benchmark: one `riskrelay run --once` (release build) over N simulated tenants
# with a few changed users each (the MSP mode), against the same run over one tenant. Every
# simulated tenant enforces Graph's 1 request/s identity-protection rule on its own. Prints wall
# time, the ratio to the single-tenant run, peak memory and requests per tenant.
# Usage: scripts/tenants-bench.sh [TENANTS...]   (default 10 50 200; CHANGES=3 users per tenant;
#        BENCH_RELEASE=1 runs the simulator from a release build of the test binary, for
#        many more tenants than 200)
# A benchmark, not a test: run by hand on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin riskrelay
source scripts/bench-test.sh
for tenants in ${@:-10 50 200}; do
  (
    export RISKRELAY_BENCH_TENANTS="$tenants" RISKRELAY_BENCH_CHANGES=${CHANGES:-3} \
      RISKRELAY_BENCH_BIN="$PWD/target/release/riskrelay"
    bench_test tenants_benchmark
  ) 2>&1 | grep -E 'tenants-bench: |panicked'
done
