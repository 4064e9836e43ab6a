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
//! Core (pure, no I/O):
//! - [`ids`]: GUID identifiers (tenant, user, subscription, legacy alert), parsed once at the edge.
//! - [`risk`]: Graph's risk resources (`riskyUser`, `riskDetection`, …) and their evolvable enums.
//! - [`catalogue`]: every documented `riskEventType` with its portal name, timing and tier.
//! - [`context`]: what the directory says about a user (context, sync, MFA/SSPR registration).
//! - [`posture`]: the tenant posture data and the snapshot the verdict reads.
//! - [`notification`]: Graph change and lifecycle notifications and resource-path parsing.
//! - [`observation`]: the queue's message types and the lifecycle-handler port.
//! - [`reconcile`]: last-seen state versus now, into at most one change per user.
//! - [`verdict`]: can the user self-remediate on-premises, in the cloud, or not, and why.
//! - [`alert`]: alerts, their kinds, stable keys and routing (incident, resolves).
//! - [`exclusions`]: who never gets a user alert (break-glass, test and service accounts).
//! - [`coalesce`]: new detections soon after a message about the user, folded into the next one.
//! - [`late`]: alerts whose detections surfaced before the poll window, held back until the
//!   cycle's capped reads, made after its pages.
//! - [`snooze`]: users the team is handling, held back for a while with a reason.
//! - [`action_link`]: the signed links behind an alert's action buttons, and their settings.
//! - [`summary`]: the standing summary's schedule and lines (who is still at risk).
//! - [`drift`]: the drift guard's decisions (episodes, one PATCH, said once).
//! - [`tenancy`]: many tenants from one deployment: the registry, each tenant's consent state
//!   and the admin-consent URL.
//! - [`render`]: one view per message, drawn for Slack, Teams and a terminal, with escaping.
//! - [`client_state`]: the `clientState` secret and its constant-time check.
//! - [`redact`]: every secret riskrelay holds, and the one scrub of them from any text it logs,
//!   stores or posts (whatever encoding an upstream echoes them in).
//! - [`clock`]: the one source of "now" for every service.
//! - [`config`]: the environment and secret sources, and the shared value parsers. Each component
//!   owns its own settings type and loader.
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
//! - [`sink`]: the `Sink` port with Slack, Teams, PagerDuty, console and file destinations.
//! - [`server`]: the local HTTP server (the webhook and action pages outside Lambda, the simulator).
//! - [`sim`]: a simulated Entra tenant (token endpoint, sign-in and Graph) on loopback, for the demo,
//!   `run --simulate` and the tests.
//!
//! Pipeline:
//! - [`source`]: where work comes from: the poll cycle, the webhook, Graph subscriptions.
//! - [`worker`]: queue items in, alerts out, state recorded after delivery.
//! - [`deliver`]: each message to each sink exactly once, digests for bursts.
//! - [`parking`]: messages a destination will not take, set aside (self-hosted) so the rest moves on.
//! - [`checks`]: the posture checks (I/O), their findings (pure) and the `check` report.
//! - [`actions`]: the action pages: Entra sign-in (OIDC with PKCE), acting with the analyst's own
//!   token, the follow-up message and the record the next alert recalls.
//!
//! Wiring:
//! - [`app`]: the composition root every entry point builds through.
//! - [`fleet`]: the tenants a process serves (one, or every registered one), each job run for
//!   each tenant side by side, consent kept track of.
//! - [`lambda`]: the three Lambda functions' handlers and cold start.
//! - [`service`]: `riskrelay run`, the self-hosted service.
//! - [`demo`]: `riskrelay demo`.
//!
//! The binaries (`src/main.rs` for the CLI, `src/bin/*.rs` for the Lambda functions) hold wiring only.

pub mod action_link;
pub mod actions;
pub mod alert;
pub mod api_error;
pub mod app;
pub mod aws;
pub mod catalogue;
pub mod checks;
pub mod client_state;
pub mod clock;
pub mod coalesce;
pub mod config;
pub mod context;
pub mod deliver;
pub mod demo;
pub mod drift;
pub mod exclusions;
pub mod fleet;
pub mod graph;
pub mod http;
pub mod ids;
pub mod lambda;
pub mod late;
pub mod limiter;
pub mod notification;
pub mod observation;
pub mod parking;
pub mod posture;
pub mod queue;
pub mod reconcile;
pub mod redact;
pub mod render;
pub mod risk;
pub mod secrets;
pub mod server;
pub mod service;
pub mod sim;
pub mod sink;
pub mod snooze;
pub mod source;
pub mod store;
pub mod summary;
pub mod telemetry;
pub mod tenancy;
pub mod verdict;
pub mod worker;
