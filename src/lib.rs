//! riskrelay tells a security team, in Slack or Microsoft Teams, when a Microsoft Entra user
//! becomes risky, why, whether they can fix it themselves and when it is over; and it keeps
//! Entra ID Protection's "Allow on-premises password change to reset user risk" switched on.
//!
//! # Layout
//!
//! Sources produce [`observation::WorkItem`]s, a queue carries them, the worker turns them into
//! alerts and delivers them.
//!
//! - [`config`]: typed configuration from `RISKRELAY_*` variables and a secret source.
//! - [`ids`]: GUID identifiers (tenant, user, subscription), parsed once at the edge.
//! - [`risk`]: Graph's risk resources (`riskyUser`, `riskDetection`, …) and their evolvable enums.
//! - [`catalogue`]: every documented `riskEventType` with its portal name, timing and tier.
//! - [`notification`]: Graph change and lifecycle notifications, resource-path parsing, and
//!   `clientState` verification.
//! - [`observation`]: the queue's message types.
//! - [`context`]: what the directory says about a user (context, sync, MFA/SSPR registration).
//! - [`posture`]: the tenant posture data (identity protection policy, password sync, CA policies).
//! - [`graph`]: the Graph client: tokens, the identity-protection request budget, retries, paging,
//!   `$batch`, and every read and write riskrelay makes.
//! - [`limiter`]: evenly spaced request slots (Graph's identity-protection budget, Slack's rate).
//! - [`queue`]: the `Queue` port with in-process and SQS adapters.
//! - [`webhook`]: the Graph webhook as one HTTP application (verify and enqueue only), with the
//!   single mapping of errors to HTTP responses.
//! - [`server`]: the local HTTP server that hosts the webhook outside Lambda.
//! - [`sim`]: a simulated Entra tenant (token endpoint and Graph) on loopback, for the demo,
//!   `run --simulate` and the tests.
//! - [`telemetry`]: logging set-up for every binary.

pub mod alert;
pub mod app;
pub mod aws;
pub mod catalogue;
pub mod checks;
pub mod config;
pub mod context;
pub mod deliver;
pub mod demo;
pub mod drift;
pub mod graph;
pub mod ids;
pub mod lambda;
pub mod limiter;
pub mod notification;
pub mod observation;
pub mod poll;
pub mod posture;
pub mod queue;
pub mod reconcile;
pub mod render;
pub mod risk;
pub mod secrets;
pub mod server;
pub mod service;
pub mod sim;
pub mod sink;
pub mod store;
pub mod subscriptions;
pub mod telemetry;
pub mod verdict;
pub mod webhook;
pub mod worker;
