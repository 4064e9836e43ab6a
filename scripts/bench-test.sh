# Sourced by the benchmarks: `bench_test NAME` runs the ignored benchmark test NAME from the
# command's test binary (crates/cli/tests/cli), built in debug, or with BENCH_RELEASE=1 in release in its own target
# directory (BENCH_TARGET_DIR, default target/bench) without LTO, so that the measured riskrelay
# binary stays the normal release build and the simulator inside the test is not the bottleneck.
bench_test() {
  if [ -n "${BENCH_RELEASE:-}" ]; then
    local test_bin
    test_bin=$(CARGO_TARGET_DIR=${BENCH_TARGET_DIR:-target/bench} CARGO_PROFILE_RELEASE_LTO=off \
      cargo test --release -p riskrelay-cli --test cli --no-run 2>&1 | sed -n 's|.*Executable tests/cli/main.rs (\(.*\))|\1|p')
    [ -x "$test_bin" ] || { echo "could not build the release test binary" >&2; return 1; }
    "$test_bin" "$1" --ignored --nocapture
  else
    cargo test -p riskrelay-cli --test cli "$1" -- --ignored --nocapture
  fi
}
