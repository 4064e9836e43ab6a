//! riskrelay tells a security team, in Slack or Microsoft Teams, when a Microsoft Entra user
//! becomes risky, why, whether they can fix it themselves and when it is over; and it keeps
//! Entra ID Protection's "Allow on-premises password change to reset user risk" switched on.
//!
//! # Layout
//!
//! Sources (the poll cycle, the webhook) produce [`observation::WorkItem`]s; a queue carries them;
//! the worker reconciles, enriches, renders and delivers. The modules form layers, each importing
//! only its own layer and those below (the integration test `layering` keeps it so):
//!
//! Core (pure, no I/O): the package `riskrelay-core` (`crates/core`), re-exported below under the
//! names the application has always used (`crate::alert`, `crate::render`, …); its map is in its
//! own `lib.rs`.
//!
//! Shared helpers:
//! - [`http`]: the HTTP client set-up, `Retry-After`, and the one retry policy.
//! - [`limiter`]: evenly spaced request slots (Graph's identity-protection budget, Slack's pace).
//! - [`api_error`]: the one mapping of request errors to HTTP responses.
//! - [`telemetry`], [`aws`], [`secrets`]: logging, the AWS SDK set-up, the Secrets Manager secret.
//!
//! Adapters (one folder per port):
//! - [`graph`]: the Graph client: settings, tokens, the identity-protection budget, paging,
//!   `$batch`, and every read and write riskrelay makes.
//! - [`store`]: the `Store` port with memory, SQLite and DynamoDB adapters, and the
//!   identity-protection slots processes share through it, and the poll window's detection spill.
//! - [`queue`]: the `Queue` port with in-process (inline), channel and SQS adapters.
//! - [`sink`]: the `Sink` port with Slack, Teams, PagerDuty, console and file destinations, and a
//!   destination tenants share gathering a burst across them into one digest.
//! - [`server`]: the local HTTP server (the webhook and action pages outside Lambda, the simulator).
//! - [`metrics`]: riskrelay's own figures, served as `GET /metrics` and written as CloudWatch EMF
//!   log lines.
//!
//! Pipeline:
//! - [`source`]: where work comes from: the poll cycle, the webhook, Graph subscriptions.
//! - [`features`]: the I/O half of each tenant-level feature (snoozes, coalescing, the
//!   summary), named like its pure half, each writing the store document it owns.
//! - [`worker`]: queue items in, alerts out, state recorded after delivery.
//! - [`deliver`]: each message to each sink exactly once, digests for bursts.
//! - [`parking`]: messages a destination will not take, set aside (self-hosted) so the rest moves on.
//! - [`checks`]: the posture checks (I/O), their findings (pure) and the `check` report.
//! - [`status`]: each tenant's state as the store holds it (`riskrelay status`), without Graph.
//! - [`actions`]: the action pages: Entra sign-in (OIDC with PKCE), acting with the analyst's own
//!   token, the follow-up message and the record the next alert recalls; with many tenants, each
//!   link's tenant's own pages.
//!
//! Wiring:
//! - [`app`]: the composition root every entry point builds through, and each role's parts.
//! - [`fleet`]: the tenants a process serves (one, or every registered one), each job run for
//!   each tenant side by side, consent kept track of.
//! - [`lambda`]: the four Lambda functions' handlers and cold start.
//! - [`service`]: `riskrelay run`, the self-hosted service.
//!
//! The Lambda functions (`src/bin/*.rs`) hold wiring only. The simulated tenant is the package
//! `riskrelay-sim`, a dev-dependency here; the `riskrelay` command and its demo are `riskrelay-cli`.

pub mod actions;
pub mod api_error;
pub mod app;
pub mod aws;
pub mod checks;
pub mod deliver;
pub mod features;
pub mod fleet;
pub mod graph;
pub mod http;
pub mod lambda;
pub mod limiter;
pub mod metrics;
pub mod parking;
pub mod queue;
pub mod secrets;
pub mod server;
pub mod service;
pub mod sink;
pub mod source;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod worker;

// The pure core, under the names the application has always used for it.
pub use riskrelay_core::{
    action_link, activity, admin_center, alert, baseline, catalogue, client_state, clock, coalesce,
    config, context, drift, exclusions, ids, late, notification, observation, onboarding,
    poll_health, posture, reconcile, redact, render, risk, slack_signature, snooze, summary,
    tenancy, verdict, workload,
};
