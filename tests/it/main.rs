//! Integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod delivery;
mod graph;
mod helpers;
mod posture;
mod queue_sqs;
mod render;
mod store;
mod webhook;
mod worker;
