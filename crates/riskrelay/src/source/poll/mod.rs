//! The poll cycle: Graph cannot push risky-user changes, so this is the primary source.
//!
//! Read the checkpoint, read risky users and detections changed since (checkpoint − overlap) —
//! one request per page of 500, never one per user — and enqueue one Observation per changed
//! user, and only then advance the checkpoint. A cycle that fails part-way leaves the checkpoint
//! where it was, so the next one reads the same window again; reconcile removes the duplicates.
//! The very first cycle against a tenant records the risk that already exists as a baseline,
//! announced once as a summary instead of one alert per user.
//!
//! The cycle streams: the window's detections are set aside on disk
//! ([`crate::store::spill::DetectionSpill`]), then each page of users is handed on with its
//! detections while the next page is read — one page in flight. Memory stays flat however many
//! users changed, and the worker's enrichment overlaps Graph's identity-protection pacing.

mod handoff;

use handoff::Handoff;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::alert::Message;
use crate::clock::Clock;
use crate::config::{ConfigError, Env, minutes};
use crate::exclusions::Exclusions;
use crate::graph::{GraphClient, GraphError};
use crate::ids::{TenantId, UserId};
use crate::observation::{Fetched, Observation, Origin, Subject, WorkItem};
use crate::queue::{Queue, QueueError};
use crate::risk::{RiskDetection, RiskyUser};
use crate::store::spill::DetectionSpill;
use crate::store::{self, Store, StoreError};

/// How far before the checkpoint each cycle reads again. Real-time detections take 5 to 10
/// minutes to show up in Graph after they are recorded; an item stamped before the checkpoint
/// but visible only after it would otherwise be missed for good. 15 minutes covers that lag with
/// room to spare, and costs no extra request (the window is read per page, not per item).
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(15 * 60);

/// How far before the checkpoint each poll reads again (`RISKRELAY_POLL_OVERLAP_MINUTES`).
pub fn overlap(env: &Env) -> Result<Duration, ConfigError> {
    env.or(
        "RISKRELAY_POLL_OVERLAP_MINUTES",
        "minutes, 1 to 2880",
        DEFAULT_OVERLAP,
        minutes(1..=2880),
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Everything changed before this (minus the overlap) has been enqueued.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("reading Graph failed: {0}")]
    Graph(#[from] GraphError),
    #[error("enqueueing failed; the checkpoint stays where it was: {0}")]
    Queue(#[from] QueueError),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error(
        "the cycle ran out of time before its window was read; the checkpoint stays, and the next cycle takes on the first {minutes} minutes of it"
    )]
    OutOfTime { minutes: i64 },
}

/// The smallest part of a window a cycle takes on after running out of time.
const MIN_SPAN: time::Duration = time::Duration::minutes(1);

impl PollError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Graph(e) => e.is_retryable(),
            Self::Queue(_) | Self::Store(_) | Self::OutOfTime { .. } => true,
        }
    }
}

/// Asks for a poll cycle soon, saying why (a `missed` lifecycle event). It only asks: the poll
/// itself runs where polls run (the scheduler of `riskrelay run`, the poller function).
#[async_trait::async_trait]
pub trait PollTrigger: Send + Sync {
    async fn poll_now(&self, reason: &str) -> Result<(), StoreError>;
}

/// A request for a poll that did not come from the schedule: Graph said notifications were
/// missed. The worker must not poll itself (it would enqueue onto the queue it is draining, inside
/// a queue invocation), so it records the request and the poller's next run reports it. Nothing
/// needs to be read again for it: the poll reads from its checkpoint, so what a missed
/// notification would have hinted at is in the next cycle's window anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollRequest {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub reason: String,
}

/// Records a [`PollRequest`] in the store for the poller's next run.
pub struct StoredPollRequest {
    pub tenant: TenantId,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

#[async_trait::async_trait]
impl PollTrigger for StoredPollRequest {
    async fn poll_now(&self, reason: &str) -> Result<(), StoreError> {
        let request = PollRequest {
            at: self.clock.now(),
            reason: reason.to_string(),
        };
        let key = store::keys::POLL_REQUEST;
        let current = store::load::<PollRequest>(self.store.as_ref(), self.tenant, key).await?;
        // Losing a race to another writer is fine: one request is as good as two.
        store::save(
            self.store.as_ref(),
            self.tenant,
            key,
            &Some(request),
            current.map(|c| c.version),
        )
        .await
        .map(|_| ())
    }
}

/// What one cycle did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub cycle_id: String,
    /// A request for this poll recorded since the last one (see [`PollRequest`]).
    pub requested: Option<PollRequest>,
    pub baseline: bool,
    pub since: Option<OffsetDateTime>,
    pub users: usize,
    pub detections: usize,
    pub enqueued: usize,
    pub checkpoint: OffsetDateTime,
    /// Snooze notices (begun, lifted, ended) handed to the queue after the cycle.
    pub snooze_notices: usize,
    /// Whether the cycle asked for the standing summary.
    pub summary: bool,
    /// Service principals and agents handed on.
    pub workloads: usize,
}

pub struct Poller {
    clock: Arc<dyn Clock>,
    tenant: TenantId,
    graph: GraphClient,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    overlap: Duration,
    exclusions: Exclusions,
    summary: crate::summary::Schedule,
    workloads: Vec<crate::workload::WorkloadKind>,
}

impl Poller {
    pub fn new(
        tenant: TenantId,
        graph: GraphClient,
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        overlap: Duration,
    ) -> Self {
        Self {
            clock: crate::clock::system(),
            tenant,
            graph,
            store,
            queue,
            overlap,
            exclusions: Exclusions::default(),
            summary: crate::summary::Schedule::Off,
            workloads: Vec::new(),
        }
    }

    /// Users left out of the baseline summary (their state is still recorded).
    pub fn with_exclusions(mut self, exclusions: Exclusions) -> Self {
        self.exclusions = exclusions;
        self
    }

    /// When the cycle asks for the standing summary.
    pub fn with_summary(mut self, schedule: crate::summary::Schedule) -> Self {
        self.summary = schedule;
        self
    }

    /// Hints every user whose folded detections are due (see `crate::features::coalesce`).
    /// Returns the hints sent.
    pub async fn hint_folded(&self, cycle_id: &str, now: OffsetDateTime) -> anyhow::Result<usize> {
        let due = crate::features::coalesce::due(self.store.as_ref(), self.tenant, now).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let n = due.len();
        self.queue
            .enqueue(
                due.into_iter()
                    .map(|user_id| self.hint(cycle_id, user_id, now))
                    .collect(),
            )
            .await?;
        Ok(n)
    }

    /// Asks for the standing summary if a scheduled time has passed (see
    /// `crate::features::summary::ask`). Returns whether it did.
    pub async fn ask_for_summary(&self, now: OffsetDateTime) -> anyhow::Result<bool> {
        crate::features::summary::ask(
            self.store.as_ref(),
            self.tenant,
            self.queue.as_ref(),
            self.summary,
            now,
        )
        .await
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The kinds of workload identity whose risk the cycle reads too (see
    /// `crate::features::workloads`).
    pub fn with_workloads(mut self, kinds: Vec<crate::workload::WorkloadKind>) -> Self {
        self.workloads = kinds;
        self
    }

    pub async fn poll(&self) -> Result<PollReport, PollError> {
        self.poll_until(None).await
    }

    /// A cycle that must end by `deadline` (a Lambda invocation's time limit). A window too large
    /// to read by then is cut: the cycle stops before the deadline with its checkpoint where it
    /// was, and the next one takes on the first half of the window (halving again if needed);
    /// each cycle that finishes advances the checkpoint to the end of what it read and doubles
    /// the part it takes on, until one reaches the present. So a window of any size is caught
    /// up, invocation by invocation, with the checkpoint's meaning unchanged.
    pub async fn poll_until(&self, deadline: Option<Instant>) -> Result<PollReport, PollError> {
        let began = Instant::now();
        let result = self.cycle(deadline).await;
        crate::metrics::global().poll_cycle(
            self.tenant,
            result.as_ref().ok().map(|r| r.checkpoint),
            began.elapsed(),
            self.clock.now(),
        );
        result
    }

    async fn cycle(&self, deadline: Option<Instant>) -> Result<PollReport, PollError> {
        let started = self.clock.now();
        let cycle_id = format!(
            "{}-{}",
            started.unix_timestamp(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let checkpoint =
            store::load::<Checkpoint>(self.store.as_ref(), self.tenant, store::keys::CHECKPOINT)
                .await?;
        let request = store::load::<Option<PollRequest>>(
            self.store.as_ref(),
            self.tenant,
            store::keys::POLL_REQUEST,
        )
        .await?;
        // Each page is enqueued as it is read; the checkpoint moves only after the last.
        let mut report = match &checkpoint {
            None => self.baseline(&cycle_id, started, deadline).await?,
            Some(cp) => {
                self.changes(&cycle_id, cp.value.at, started, deadline)
                    .await?
            }
        };
        let saved = store::save(
            self.store.as_ref(),
            self.tenant,
            store::keys::CHECKPOINT,
            &Checkpoint {
                at: report.checkpoint,
            },
            checkpoint.as_ref().map(|c| c.version),
        )
        .await?;
        if !saved {
            tracing::warn!(
                "another poller advanced the checkpoint first; its window overlaps this one"
            );
        }
        if let Some(request) = request
            && let Some(r) = request.value
        {
            tracing::info!(requested_at = %r.at, reason = %r.reason, "this cycle answered a poll request");
            // A failed clear only makes the next cycle report the request again.
            let _ = store::save(
                self.store.as_ref(),
                self.tenant,
                store::keys::POLL_REQUEST,
                &None::<PollRequest>,
                Some(request.version),
            )
            .await;
            report.requested = Some(r);
        }
        self.after_cycle(&mut report).await;
        tracing::info!(cycle = %report.cycle_id, baseline = report.baseline, users = report.users, detections = report.detections, enqueued = report.enqueued, "poll cycle done");
        Ok(report)
    }

    /// The cycle's tail: the poller is also the tenant's clock for the tenant-level features,
    /// each handed what is due once the cycle's pages are recorded (so that a reminder sees the
    /// state just recorded). Each step is best effort: a failure is retried by the next cycle
    /// and never fails this one.
    /// - snoozes: the notices owed (a new snooze, a lifted one, one that ran out);
    /// - coalescing: a hint for every user whose folded detections are due;
    /// - the summary: asked for when a scheduled time has passed;
    /// - workload identities: the risky service principals and agents changed since their own
    ///   checkpoint, after the users so a refusal or an outage never delays a user's alert.
    async fn after_cycle(&self, report: &mut PollReport) {
        let now = self.clock.now();
        let store = self.store.as_ref();
        let watch = crate::features::workloads::Watch {
            graph: &self.graph,
            store,
            queue: self.queue.as_ref(),
            tenant: self.tenant,
            kinds: &self.workloads,
            overlap: self.overlap,
        };
        match crate::features::workloads::poll(&watch, &report.cycle_id, now).await {
            Ok(w) => {
                report.enqueued += w.handed_on;
                report.workloads = w.handed_on;
            }
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "risky workload identities were not read; the next cycle tries again"
            ),
        }
        match crate::features::snooze::hand_over(store, self.tenant, self.queue.as_ref(), now).await
        {
            Ok(n) => report.snooze_notices = n,
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "the snooze notices were not handed over; the next cycle tries again"
            ),
        }
        match self.hint_folded(&report.cycle_id, now).await {
            Ok(n) => report.enqueued += n,
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "users with folded detections were not hinted; the next cycle tries again"
            ),
        }
        match self.ask_for_summary(now).await {
            Ok(asked) => report.summary = asked,
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "the summary was not asked for; the next cycle tries again"
            ),
        }
    }

    async fn baseline(
        &self,
        cycle_id: &str,
        started: OffsetDateTime,
        deadline: Option<Instant>,
    ) -> Result<PollReport, PollError> {
        // A baseline is not cut (it is a state, not a window): out of time, it starts over.
        let mut handoff = Handoff::new(self.queue.as_ref(), deadline, 0);
        let mut pages = self.graph.risky_users_at_risk_pages();
        let mut tally = crate::baseline::Tally::default();
        let mut users = 0;
        while let Some(page) = handoff.next(pages.next_page()).await? {
            // Excluded users are recorded, not counted (group exclusions are not read here: a
            // baseline may list thousands of users).
            let counted = page.iter().filter(|u| {
                !self
                    .exclusions
                    .names(u.id, u.user_principal_name.as_deref())
            });
            tally.add(counted);
            users += page.len();
            let items = page
                .into_iter()
                .map(|u| self.observation(cycle_id, u, Vec::new(), true, started))
                .collect();
            handoff.send(items).await?;
        }
        let baseline = tally.into_baseline(self.tenant, cycle_id);
        handoff
            .send(vec![WorkItem::Notice {
                tenant_id: self.tenant,
                message: Message::Baseline(baseline),
            }])
            .await?;
        let enqueued = handoff.finish().await?;
        Ok(PollReport {
            cycle_id: cycle_id.into(),
            requested: None,
            baseline: true,
            since: None,
            users,
            detections: 0,
            enqueued,
            checkpoint: started,
            snooze_notices: 0,
            summary: false,
            workloads: 0,
        })
    }

    async fn changes(
        &self,
        cycle_id: &str,
        checkpoint: OffsetDateTime,
        started: OffsetDateTime,
        deadline: Option<Instant>,
    ) -> Result<PollReport, PollError> {
        let span =
            store::load::<Option<i64>>(self.store.as_ref(), self.tenant, store::keys::POLL_SPAN)
                .await?;
        let taken = span
            .as_ref()
            .and_then(|s| s.value)
            .map(time::Duration::seconds);
        let end = taken.map_or(started, |t| (checkpoint + t).min(started));
        let until = (end < started).then_some(end);
        let since = checkpoint - self.overlap;
        let width: time::Duration = end - checkpoint;
        let half = std::cmp::max(width / 2_i32, MIN_SPAN);
        let result = self
            .read_window(cycle_id, since, until, started, deadline, half)
            .await;
        // What the next cycle takes on: half after running out of time, twice as much after a
        // cut window that went through, all of it once a cycle reached the present.
        let next = match &result {
            Err(PollError::OutOfTime { .. }) => Some(half.whole_seconds()),
            Ok(_) => taken
                .filter(|_| until.is_some())
                .map(|t: time::Duration| (t * 2_i32).whole_seconds()),
            Err(_) => taken.map(|t| t.whole_seconds()),
        };
        if next != taken.map(|t| t.whole_seconds()) {
            // A lost race only means another cycle decided first.
            let _ = store::save(
                self.store.as_ref(),
                self.tenant,
                store::keys::POLL_SPAN,
                &next,
                span.map(|s| s.version),
            )
            .await;
        }
        let mut report = result?;
        report.checkpoint = end;
        Ok(report)
    }

    async fn read_window(
        &self,
        cycle_id: &str,
        since: OffsetDateTime,
        until: Option<OffsetDateTime>,
        started: OffsetDateTime,
        deadline: Option<Instant>,
        half: time::Duration,
    ) -> Result<PollReport, PollError> {
        let minutes = half.whole_minutes();
        let mut spill = DetectionSpill::new()?;
        let mut detections = self.graph.risk_detections_changed_pages(since, until);
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(PollError::OutOfTime { minutes });
            }
            let Some(page) = detections.next_page().await? else {
                break;
            };
            spill.add(&page)?;
        }
        let mut handoff = Handoff::new(self.queue.as_ref(), deadline, minutes);
        let mut pages = self.graph.risky_users_changed_pages(since, until);
        let mut users = 0;
        while let Some(page) = handoff.next(pages.next_page()).await? {
            users += page.len();
            let ids: Vec<_> = page.iter().map(|u| u.id).collect();
            let mut by_user = spill.take(&ids)?;
            let items = page
                .into_iter()
                .map(|u| {
                    let dets = by_user.remove(&u.id).unwrap_or_default();
                    self.observation(cycle_id, u, dets, false, started)
                })
                .collect();
            handoff.send(items).await?;
        }
        // Detections whose user's risk record did not change in the window (a late offline
        // detection at an unchanged level): the worker reads that user itself.
        loop {
            let left = spill.take_any(crate::graph::reads::PAGE_SIZE as usize)?;
            if left.is_empty() {
                break;
            }
            let items = left
                .into_iter()
                .map(|user_id| self.hint(cycle_id, user_id, started))
                .collect();
            handoff.send(items).await?;
        }
        // Last: the detections the cycle's held-back alerts wait for are read once its pages
        // are handed on, so they never delay the other alerts (see [`crate::late`]).
        handoff
            .close_with(WorkItem::LateDetections {
                tenant_id: self.tenant,
                cycle_id: cycle_id.into(),
            })
            .await?;
        let enqueued = handoff.finish().await?;
        Ok(PollReport {
            cycle_id: cycle_id.into(),
            requested: None,
            baseline: false,
            since: Some(since),
            users,
            detections: spill.len(),
            enqueued,
            checkpoint: started,
            snooze_notices: 0,
            summary: false,
            workloads: 0,
        })
    }

    /// A user to read: the worker reads them from Graph itself.
    fn hint(&self, cycle_id: &str, user_id: UserId, at: OffsetDateTime) -> WorkItem {
        WorkItem::Observation(Observation {
            tenant_id: self.tenant,
            subject: Subject::RiskyUser { user_id },
            origin: Origin::Poll {
                cycle_id: cycle_id.into(),
            },
            observed_at: at,
            fetched: None,
        })
    }

    fn observation(
        &self,
        cycle_id: &str,
        user: RiskyUser,
        detections: Vec<RiskDetection>,
        baseline: bool,
        at: OffsetDateTime,
    ) -> WorkItem {
        let cycle_id = cycle_id.to_string();
        WorkItem::Observation(Observation {
            tenant_id: self.tenant,
            subject: Subject::RiskyUser { user_id: user.id },
            origin: if baseline {
                Origin::Baseline { cycle_id }
            } else {
                Origin::Poll { cycle_id }
            },
            observed_at: at,
            fetched: Some(Fetched {
                risky_user: user,
                detections,
            }),
        })
    }
}
