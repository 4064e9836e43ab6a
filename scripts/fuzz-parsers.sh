#!/usr/bin/env bash
# Runs the property tests over riskrelay's untrusted parsers (notification items, resource paths,
# next-page links, the validation token, whole webhook bodies) with many more cases than the test
# command's default: a benchmark job, not part of CI.
# Usage: scripts/fuzz-parsers.sh [CASES]   (default 20000 per property)
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${1:-20000}
start=$(date +%s)
PROPTEST_CASES=$CASES cargo test --workspace --lib properties -- --test-threads=2
echo "properties passed with $CASES cases each in $(( $(date +%s) - start )) s"
