//! riskrelay's pure core: Graph's risk resources as read, the decisions riskrelay makes about them
//! and the words it posts. No async runtime, HTTP, AWS, SQLite or Lambda crate: the application
//! (`crates/riskrelay`) does the I/O, and the layering test checks this package's manifest.
//!
//! - [`ids`]: GUID identifiers (tenant, user, subscription, legacy alert), parsed once at the edge.
//! - [`risk`]: Graph's risk resources (`riskyUser`, `riskDetection`, …) and their evolvable enums.
//! - [`catalogue`]: every documented `riskEventType` with its portal name, timing and tier.
//! - [`context`]: what the directory says about a user (context, sync, MFA/SSPR registration).
//! - [`posture`]: the tenant posture data and the snapshot the verdict reads.
//! - [`notification`]: Graph change and lifecycle notifications and resource-path parsing.
//! - [`observation`]: the queue's message types.
//! - [`reconcile`]: last-seen state versus now, into at most one change per user.
//! - [`workload`]: risky service principals and AI agents: read leniently, reconciled like users,
//!   their context (credentials, owners, reach) and what the team can do.
//! - [`verdict`]: can the user self-remediate on-premises, in the cloud, or not, and why.
//! - [`admin_center`]: the Entra admin center of the tenant's cloud and the pages alerts link to.
//! - [`alert`]: alerts, their kinds, stable keys and routing (incident, resolves).
//! - [`baseline`]: the first poll's summary of the risk that already exists (counts, the top few).
//! - [`exclusions`]: who never gets a user alert (break-glass, test and service accounts).
//! - [`coalesce`]: new detections soon after a message about the user, folded into the next one.
//! - [`late`]: alerts whose detections surfaced before the poll window, held back until the
//!   cycle's capped reads, made after its pages.
//! - [`snooze`]: users and workload identities the team is handling, held back for a while with a
//!   reason.
//! - [`activity`]: who is at risk now by level, and alerts per day, as the status shows them.
//! - [`action_link`]: the signed links behind an alert's action buttons, and their settings.
//! - [`summary`]: the standing summary's schedule and lines (who is still at risk).
//! - [`drift`]: the drift guard's decisions (episodes, one PATCH, said once).
//! - [`poll_health`]: the dead-man message: polls failing for too long, said once, and their end.
//! - [`tenancy`]: many tenants from one deployment: the registry, each tenant's consent state
//!   and the admin-consent URL.
//! - [`onboarding`]: a tenant described for the registry, checked; a CSV file of many.
//! - [`render`]: one view per message, drawn for Slack, Teams and a terminal, with escaping.
//! - [`client_state`]: the `clientState` secret and its constant-time check.
//! - [`slack_signature`]: Slack's request signature, checked in constant time within five minutes.
//! - [`redact`]: every secret riskrelay holds, and the one scrub of them from any text it logs,
//!   stores or posts (whatever encoding an upstream echoes them in).
//! - [`mac`]: HMAC-SHA256 and SHA-256, the keyed digests the core signs and derives with.
//! - [`clock`]: the one source of "now" for every service.
//! - [`config`]: the environment and secret sources, and the shared value parsers. Each component
//!   owns its own settings type and loader.

pub mod action_link;
pub mod activity;
pub mod admin_center;
pub mod alert;
pub mod baseline;
pub mod catalogue;
pub mod client_state;
pub mod clock;
pub mod coalesce;
pub mod config;
pub mod context;
pub mod drift;
pub mod exclusions;
pub mod ids;
pub mod late;
pub mod mac;
pub mod notification;
pub mod observation;
pub mod onboarding;
pub mod poll_health;
pub mod posture;
pub mod reconcile;
pub mod redact;
pub mod render;
pub mod risk;
pub mod slack_signature;
pub mod snooze;
pub mod summary;
pub mod tenancy;
pub mod verdict;
pub mod workload;
