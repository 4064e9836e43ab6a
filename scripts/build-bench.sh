#!/usr/bin/env bash
# The incremental test build after an edit, by layer: touches one file of the application (the
# worker), the simulator and the core, and times `cargo test --workspace --no-run` after each
# (warmed first, so only the edit's cost is measured). Then the core's own test loop. A benchmark,
# not CI: these machines are shared and noisy; run it twice and read the lower figures.
# Usage: scripts/build-bench.sh [FILE...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds_since() {
  local ms=$(( ($(date +%s%N) - $1) / 1000000 ))
  printf '%d.%01d' $((ms / 1000)) $(((ms % 1000) / 100))
}
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(crates/riskrelay/src/worker/mod.rs crates/sim/src/lib.rs crates/core/src/alert.rs)
cargo test --workspace --no-run --locked -q >/dev/null 2>&1
for f in "${files[@]}"; do
  touch "$f"
  start=$(date +%s%N)
  cargo test --workspace --no-run --locked -q >/dev/null 2>&1
  echo "test build after touching $f: $(seconds_since "$start") s"
done
touch crates/core/src/alert.rs
start=$(date +%s%N)
cargo test -p riskrelay-core --locked -q >/dev/null 2>&1
echo "the core alone, built and tested after touching crates/core/src/alert.rs: $(seconds_since "$start") s"
