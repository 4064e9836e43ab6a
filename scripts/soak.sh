#!/usr/bin/env bash
# The soak at full size: `riskrelay run --once` cycle after cycle against the simulated tenant with
# 10 % of Graph requests failing (429 with and without Retry-After, 503), a slow $batch, 10 % of
# chat posts refused (429, 5xx) and the process SIGKILLed at random moments; it ends by counting
# posts per destination (lost, duplicates), parked items and peak memory. A benchmark, not CI:
# the test command runs the same soak small (100 changes, 3 kills).
# Usage: scripts/soak.sh [CHANGES] [KILLS] [CHANGES_PER_CYCLE]   (default 1000 10 50)
# Slack's pace (1 post a second) sets the floor: about CHANGES seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# A copy of the binary under test, so that building while the soak runs changes nothing.
cargo build --bin riskrelay
bin=$(mktemp -d)/riskrelay && cp target/debug/riskrelay "$bin"
logs=$(mktemp -d) && echo "each run's log: $logs"
RISKRELAY_SOAK_LOGS=$logs RISKRELAY_SOAK_BIN=$bin RISKRELAY_SOAK_CHANGES=${1:-1000} RISKRELAY_SOAK_KILLS=${2:-10} RISKRELAY_SOAK_PER_CYCLE=${3:-50} \
  cargo test -p riskrelay-cli --test cli soak -- --nocapture --test-threads=1 2>&1 | grep -E 'soak: |test result|panicked|never arrived' 
echo "soak finished in $(( $(date +%s) - start )) s"
