//! riskrelay tells a security team, in Slack or Microsoft Teams, when a Microsoft Entra user
//! becomes risky, why, whether they can fix it themselves and when it is over; and it keeps
//! Entra ID Protection's "Allow on-premises password change to reset user risk" switched on.
//!
//! # Layout
//!
//! Sources (the poll cycle, the webhook) produce [`observation::WorkItem`]s; a queue carries them;
//! the worker reconciles, enriches, renders and delivers. The domain modules are pure; adapters
//! talk to Graph, AWS and chat; entry points only wire them together.
//!
//! Domain (pure):
//! - [`ids`]: GUID identifiers (tenant, user, subscription), parsed once at the edge.
//! - [`risk`]: Graph's risk resources (`riskyUser`, `riskDetection`, …) and their evolvable enums.
//! - [`catalogue`]: every documented `riskEventType` with its portal name, timing and tier.
//! - [`context`]: what the directory says about a user (context, sync, MFA/SSPR registration).
//! - [`posture`]: the tenant posture data and the snapshot the verdict reads.
//! - [`notification`]: Graph change and lifecycle notifications, resource-path parsing, and
//!   `clientState` verification.
//! - [`observation`]: the queue's message types.
//! - [`reconcile`]: last-seen state versus now, into at most one change per user.
//! - [`verdict`]: can the user self-remediate on-premises, in the cloud, or not, and why.
//! - [`alert`]: alerts, their kinds and stable keys.
//! - [`drift`]: the drift guard's decisions (episodes, one PATCH, said once).
//! - [`render`]: one view per message, drawn for Slack, Teams and a terminal, with escaping.
//!
//! Adapters and services:
//! - [`config`]: typed configuration from `RISKRELAY_*` variables and a secret source.
//! - [`graph`]: the Graph client: tokens, the identity-protection request budget, retries, paging,
//!   `$batch`, and every read and write riskrelay makes.
//! - [`limiter`]: evenly spaced request slots (Graph's identity-protection budget, Slack's rate).
//! - [`queue`]: the `Queue` port with in-process and SQS adapters.
//! - [`store`]: the `Store` port (versioned documents, delivery records) with memory, SQLite and
//!   DynamoDB adapters.
//! - [`sink`]: Slack, Teams and console destinations.
//! - [`secrets`]: the Secrets Manager JSON secret, cached with a TTL.
//! - [`aws`]: the AWS SDK configuration shared by the Lambda functions.
//! - [`deliver`]: each message to each sink exactly once, digests for bursts.
//! - [`worker`]: queue items in, alerts out, state recorded after delivery.
//! - [`poll`]: the poll cycle and its checkpoint (the primary source).
//! - [`checks`]: the posture checks, the drift guard's I/O, and the `check` report.
//! - [`subscriptions`]: optional Graph subscriptions and their lifecycle.
//! - [`webhook`]: the Graph webhook as one HTTP application (verify and enqueue only), with the
//!   single mapping of errors to HTTP responses.
//! - [`server`]: the local HTTP server (webhook outside Lambda, the simulator).
//! - [`sim`]: a simulated Entra tenant (token endpoint and Graph) on loopback, for the demo,
//!   `run --simulate` and the tests.
//!
//! Entry points (wiring):
//! - [`app`]: the parts every entry point builds.
//! - [`lambda`]: the poller and worker functions' handlers and cold start.
//! - [`service`]: `riskrelay run`, the self-hosted service.
//! - [`demo`]: `riskrelay demo`.
//! - [`telemetry`]: logging set-up for every binary.
//!
//! The binaries (`src/main.rs` for the CLI, `src/bin/*.rs` for the Lambda functions) hold wiring only.

pub mod alert;
pub mod api_error;
pub mod app;
pub mod aws;
pub mod catalogue;
pub mod checks;
pub mod client_state;
pub mod clock;
pub mod config;
pub mod context;
pub mod deliver;
pub mod demo;
pub mod drift;
pub mod graph;
pub mod http;
pub mod ids;
pub mod lambda;
pub mod limiter;
pub mod notification;
pub mod observation;
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
pub mod source;
pub mod store;
pub mod telemetry;
pub mod verdict;
pub mod worker;
