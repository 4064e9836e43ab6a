//! The `riskrelay` command's tests: the demo, `run` (once, as a service, soaked), snoozing from
//! the command line, and the benchmarks that drive the binary. One binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod bench_cycle;
mod bench_tenants;
mod bench_worker;
mod demo;
mod metrics;
mod run;
mod serve;
mod snooze;
mod soak;
mod status;
mod tenants;
