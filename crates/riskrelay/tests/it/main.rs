//! Integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod actions;
mod activity;
mod app;
mod bench_aws;
mod coalesce;
mod delivery;
mod docs;
mod exclusions;
mod graph;
mod lambda_e2e;
mod layering;
mod parking;
mod poll;
mod poll_health;
mod posture;
mod queue_sqs;
mod registry;
mod render;
mod secrets;
mod signed_webhook;
mod slack_interactivity;
mod store;
mod subscriptions;
mod summary;
mod template;
mod tenant_actions;
mod tenants;
mod truth;
mod webhook;
mod worker;
mod workload_actions;
mod workloads;
