//! Integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod actions;
mod app;
mod bench_cycle;
mod bench_tenants;
mod coalesce;
mod delivery;
mod demo;
mod exclusions;
mod graph;
mod helpers;
mod lambda_e2e;
mod layering;
mod parking;
mod poll;
mod posture;
mod queue_sqs;
mod render;
mod run;
mod secrets;
mod signed_webhook;
mod snooze;
mod soak;
mod store;
mod subscriptions;
mod summary;
mod tenants;
mod truth;
mod webhook;
mod worker;
