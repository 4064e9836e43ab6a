#!/usr/bin/env bash
# The cycle benchmark: one `riskrelay run --once` (release build) over N changed users with three
# detections each, against the simulated tenant with Graph's 1 request/s identity-protection rule
# and a settable $batch latency. Prints wall time, the Graph floor and their ratio, the tail after
# the last identity-protection read, peak memory, $batch count and posts per destination.
# Usage: scripts/cycle-bench.sh [USERS...]   (default 1000 10000; BATCH_MS=150,
#        CONCURRENCY=$batches in flight, riskrelay's default when unset;
#        LATE=N of the users have their detections from before the window (late-detection reads);
#        BATCH_DOWN=1 every $batch answers 503 (an enrichment outage);
#        WORKLOADS=off|servicePrincipals|agents|on which workload identities the cycle reads too
#        (riskrelay's default, both, when unset);
#        BENCH_RELEASE=1 runs the simulator from a release build of the test binary, in
#        BENCH_TARGET_DIR, default target/bench: needed at 100,000 users, where a debug
#        simulator would be slower than Graph's pace)
# A benchmark, not a test: run by hand on a quiet machine. 100,000 users takes about 15 minutes
# (its floor is about 800 identity-protection requests).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin riskrelay
source scripts/bench-test.sh
for n in "${@:-1000 10000}"; do
  for users in $n; do  # "1000 10000" as one default word, split here
    (
      export RISKRELAY_BENCH_USERS="$users" RISKRELAY_BENCH_BATCH_MS=${BATCH_MS:-150} \
        RISKRELAY_BENCH_BIN="$PWD/target/release/riskrelay"
      if [ -n "${CONCURRENCY:-}" ]; then export RISKRELAY_BENCH_CONCURRENCY=$CONCURRENCY; fi
      export RISKRELAY_BENCH_LATE=${LATE:-0} RISKRELAY_BENCH_BATCH_DOWN=${BATCH_DOWN:-0}
      if [ -n "${WORKLOADS:-}" ]; then export RISKRELAY_BENCH_WORKLOADS=$WORKLOADS; fi
      bench_test cycle_benchmark
    ) 2>&1 | grep -E 'cycle-bench: |throttled: |panicked'
  done
done
