//! The worker: queue items in, alerts out, as named phases, each handing the next a named type:
//!
//! 1. [`gather`]: what the items say, per user (`Gathered`); a webhook hint is read from Graph.
//! 2. [`decide`]: each user against the last-seen state, and coalescing (`Decided`).
//! 3. [`enrich`]: the changes made alerts, with context, registration, posture and the verdict.
//! 4. [`late`]: alerts that would list no detection, read within the cycle's cap or held for it.
//! 5. hold back: the alerts a snooze covers (`crate::features::snooze::hold_back`).
//! 6. [`decorate`]: the action buttons, and an analyst's action recalled.
//! 7. [`send`]: every message to every destination once; what will not go, parked (`Delivered`).
//! 8. [`record`]: the states saved, the features' bookkeeping; per-item outcomes, once.
//!
//! Service principals and agents take a path of their own beside the users ([`workloads`]):
//! decided and enriched after gather, sent with the users' alerts, recorded after delivery.
//!
//! A user whose alert did not reach every destination keeps its old state and its item fails, so
//! the queue retries it and delivery records make the retry post only what is missing.

use std::sync::Arc;
use std::time::Duration;

use crate::alert::Message;
use crate::clock::Clock;
use crate::deliver::{Delivery, Report};
use crate::exclusions::Exclusions;
use crate::graph::{GraphClient, GraphError};
use crate::ids::TenantId;
use crate::observation::WorkItem;
use crate::source::subscriptions::{LifecycleHandler, UpkeepError};
use crate::store::{Store, StoreError};

mod decide;
mod decorate;
mod enrich;
mod gather;
mod late;
mod record;
mod send;
mod workloads;

use record::Outcomes;

/// How far back a webhook-hinted user's detections are read. Medium and high risk persist until
/// remediated; 90 days covers what a person would still want to see.
pub const DETECTION_LOOKBACK: Duration = Duration::from_secs(90 * 24 * 3600);

/// A posture snapshot older than this says nothing trustworthy about the tenant now: four times
/// the default 15-minute posture schedule, so one or two missed checks do not matter.
pub const POSTURE_MAX_AGE: time::Duration = time::Duration::hours(1);

/// Reads of a user's open detections per cycle when an alert would list none: each costs one
/// identity-protection request (1 per second per tenant, shared), so ten cost about ten seconds.
pub const DEFAULT_LATE_DETECTION_READS: usize = 10;

/// Who gets an alert and when: the worker's policy (the poll cycle reads the exclusions too, for
/// the baseline's counts).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Users who get no user alert (`RISKRELAY_EXCLUDE`).
    pub exclude: Exclusions,
    /// New detections this soon after a message about the user are folded into the next one
    /// (`RISKRELAY_REPEAT_WINDOW_MINUTES`; zero: off).
    pub repeat_window: time::Duration,
    /// Reads of open detections per cycle for alerts that would list none
    /// (`RISKRELAY_LATE_DETECTION_READS`).
    pub late_detection_reads: usize,
}

impl Default for Policy {
    /// Nobody excluded, no coalescing, the default late reads.
    fn default() -> Self {
        Self {
            exclude: Exclusions::default(),
            repeat_window: time::Duration::ZERO,
            late_detection_reads: DEFAULT_LATE_DETECTION_READS,
        }
    }
}

impl Policy {
    pub fn load(env: &crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        use crate::config::count;
        Ok(Self {
            exclude: Exclusions::load(env)?,
            repeat_window: time::Duration::minutes(env.or(
                "RISKRELAY_REPEAT_WINDOW_MINUTES",
                "whole minutes from 0 (off) to 1440",
                crate::coalesce::DEFAULT_WINDOW.whole_minutes() as usize,
                count(0..=1440),
            )? as i64),
            late_detection_reads: env.or(
                "RISKRELAY_LATE_DETECTION_READS",
                "a whole number from 0 to 100",
                DEFAULT_LATE_DETECTION_READS,
                count(0..=100),
            )?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkError {
    #[error("Graph: {0}")]
    Graph(#[from] GraphError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("delivery failed: {0}")]
    Delivery(DeliveryFailures),
    #[error("the user's state changed while this item was processed; it will be retried")]
    Conflict,
    #[error("subscription upkeep failed: {0}")]
    Lifecycle(#[from] UpkeepError),
    /// A state that serialisation refused (a bug, not a condition to retry into success).
    #[error("the user's state could not be encoded: {0}")]
    Encode(String),
}

/// Why a message did not reach every destination: each destination's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFailures(pub Vec<(String, crate::deliver::DeliverError)>);

impl std::fmt::Display for DeliveryFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (sink, error)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{sink}: {error}")?;
        }
        Ok(())
    }
}

/// What a batch did, for logs, tests and the demo.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub results: Vec<Result<(), WorkError>>,
    pub delivery: Report,
    pub alerts: Vec<Message>,
    /// (message key, destination) set aside in this batch (see [`crate::parking`]).
    pub parked: Vec<(String, String)>,
}

pub struct Worker {
    clock: Arc<dyn Clock>,
    tenant: TenantId,
    graph: GraphClient,
    store: Arc<dyn Store>,
    delivery: Delivery,
    lifecycle: Option<Arc<dyn LifecycleHandler>>,
    parking: bool,
    policy: Policy,
    admin_center: crate::alert::AdminCenter,
    /// The action buttons alerts carry, when any are configured.
    actions: Option<crate::action_link::ActionsConfig>,
}

impl Worker {
    pub fn new(
        tenant: TenantId,
        graph: GraphClient,
        store: Arc<dyn Store>,
        delivery: Delivery,
    ) -> Self {
        Self {
            clock: crate::clock::system(),
            tenant,
            graph,
            store,
            delivery,
            lifecycle: None,
            parking: false,
            policy: Policy::default(),
            admin_center: Default::default(),
            actions: None,
        }
    }

    /// Where the alerts' links lead (the cloud's Entra admin center).
    pub fn with_admin_center(mut self, admin_center: crate::alert::AdminCenter) -> Self {
        self.admin_center = admin_center;
        self
    }

    /// Alerts about an ongoing risk carry signed links to act on the user (see
    /// [`crate::actions`]).
    pub fn with_actions(mut self, actions: Option<crate::action_link::ActionsConfig>) -> Self {
        self.actions = actions;
        self
    }

    /// Who gets an alert and when (see [`Policy`]).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets aside what a destination will not take instead of failing its item again and again
    /// (`riskrelay run`, which has no dead-letter queue).
    pub fn with_parking(mut self) -> Self {
        self.parking = true;
        self
    }

    /// Posts parked messages to their destination again (`riskrelay parked --replay`).
    pub async fn replay_parked(
        &self,
        which: &crate::parking::Selection,
    ) -> anyhow::Result<Vec<(String, Result<(), String>)>> {
        crate::parking::replay(
            self.store.as_ref(),
            self.tenant,
            &self.delivery,
            which,
            self.clock.now(),
        )
        .await
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_lifecycle(mut self, handler: Arc<dyn LifecycleHandler>) -> Self {
        self.lifecycle = Some(handler);
        self
    }

    /// One batch through the phases (see the module's documentation).
    pub async fn process(&self, items: &[WorkItem]) -> BatchReport {
        let now = self.clock.now();
        let mut outcomes = Outcomes::new(items.len());
        let gathered = self.gather_all(items, now, &mut outcomes).await;
        let observed: Vec<_> = gathered.workloads.iter().map(|(i, o)| (*i, o)).collect();
        let mut workloads = self.decide_workloads(&observed, &mut outcomes).await;
        let mut decided = self.decide(&gathered.seen, now, &mut outcomes).await;
        let mut alerts = self
            .enrich(std::mem::take(&mut decided.changed), &gathered.seen, now)
            .await;
        let held = self.late_detections(&mut alerts, &gathered.seen, now).await;
        for (id, detections) in held.read {
            // Remember them, so a later window that lists them does not call them new.
            if let Some(next) = decided.write_of(id) {
                next.known_detections
                    .extend(detections.into_iter().map(|d| d.id));
            }
        }
        // Held back for the cycle's reads: neither posted nor recorded now (the book holds them).
        decided.writes.retain(|w| !held.waiting.contains(&w.id));
        crate::features::snooze::hold_back(
            self.store.as_ref(),
            self.tenant,
            &mut alerts,
            &mut workloads.alerts,
            now,
        )
        .await;
        self.decorate(&mut alerts, &mut workloads.alerts, now).await;
        let delivered = self
            .send(&alerts, &workloads.alerts, &gathered.notices, now)
            .await;
        self.record_workloads(workloads, &delivered, &mut outcomes)
            .await;
        self.record(&gathered, decided, &alerts, &delivered, &mut outcomes)
            .await;
        BatchReport {
            results: outcomes.finish(&gathered.seen),
            delivery: delivered.report,
            alerts: delivered.messages,
            parked: delivered.parked,
        }
    }
}

#[async_trait::async_trait]
impl crate::queue::Consumer for Worker {
    type Error = WorkError;
    async fn consume(&self, items: &[WorkItem]) -> Vec<Result<(), WorkError>> {
        self.process(items).await.results
    }
}
