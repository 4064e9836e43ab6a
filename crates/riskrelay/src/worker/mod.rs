//! The worker: queue items in, alerts out.
//!
//! Per batch: read what the sources did not attach (one risky user per webhook hint), compare
//! each user with the last-seen state, enrich the changes (directory context and registration in
//! `$batch`, the posture snapshot once), deliver, and only then record the new state. A user whose
//! alert did not reach every sink keeps its old state and its item fails, so the queue retries it
//! and delivery records make the retry post only what is missing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::alert::{Change, Message, UserAlert, keys};
use crate::clock::Clock;
use crate::coalesce;
use crate::context::Lookup;
use crate::deliver::{Delivery, Report};
use crate::exclusions::Exclusions;
use crate::graph::{GraphClient, GraphError};
use crate::ids::{TenantId, UserId};
use crate::observation::{LifecycleHandler, Observation, Origin, Subject, WorkItem};
use crate::parking;
use crate::posture::PostureSnapshot;
use crate::reconcile::{UserState, reconcile};
use crate::risk::{RiskDetection, RiskLevel, RiskState, RiskyUser};
use crate::store::{self, Store, StoreError};
use crate::verdict::{Facts, verdict};

mod late;

/// How far back a webhook-hinted user's detections are read. Medium and high risk persist until
/// remediated; 90 days covers what a person would still want to see.
pub const DETECTION_LOOKBACK: Duration = Duration::from_secs(90 * 24 * 3600);

/// A posture snapshot older than this says nothing trustworthy about the tenant now: four times
/// the default 15-minute posture schedule, so one or two missed checks do not matter.
pub const POSTURE_MAX_AGE: time::Duration = time::Duration::hours(1);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkError {
    #[error("Graph: {0}")]
    Graph(#[from] GraphError),
    #[error("store: {0}")]
    Store(String),
    #[error("delivery failed: {0}")]
    Delivery(String),
    #[error("the user's state changed while this item was processed; it will be retried")]
    Conflict,
    #[error("subscription upkeep failed: {0}")]
    Lifecycle(String),
}

impl From<StoreError> for WorkError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
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
    late_detection_reads: usize,
    tenant: TenantId,
    graph: GraphClient,
    store: Arc<dyn Store>,
    delivery: Delivery,
    lifecycle: Option<Arc<dyn LifecycleHandler>>,
    parking: bool,
    exclusions: Exclusions,
    repeat_window: time::Duration,
    admin_center: crate::alert::AdminCenter,
    /// The action buttons alerts carry, when any are configured.
    actions: Option<crate::action_link::ActionsConfig>,
}

/// A user whose risk changed, before enrichment.
struct Changed {
    id: UserId,
    change: Change,
    detections: Vec<RiskDetection>,
    previous: Option<(RiskLevel, RiskState)>,
    episode_start: Option<OffsetDateTime>,
    /// The destinations told of the episode so far.
    told: Vec<String>,
}

/// Everything the batch knows about one user.
struct Seen {
    items: Vec<usize>,
    user: RiskyUser,
    detections: Vec<RiskDetection>,
    /// When the observations were all part of the first run's baseline: when it was taken.
    baseline: Option<OffsetDateTime>,
    /// The poll cycle that handed the user on with its data, when one did.
    cycle: Option<String>,
    /// The user's open detections, read for a held-back alert (see [`crate::late`]), or why
    /// they could not be.
    late: Option<Result<Vec<RiskDetection>, String>>,
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
            late_detection_reads: crate::deliver::DEFAULT_LATE_DETECTION_READS,
            tenant,
            graph,
            store,
            delivery,
            lifecycle: None,
            parking: false,
            exclusions: Exclusions::default(),
            repeat_window: time::Duration::ZERO,
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

    /// New detections this soon after a message about the user are folded (see
    /// [`crate::coalesce`]); zero posts each at once.
    pub fn with_repeat_window(mut self, window: time::Duration) -> Self {
        self.repeat_window = window;
        self
    }

    /// Users who get no user alert; their state is still recorded.
    pub fn with_exclusions(mut self, exclusions: Exclusions) -> Self {
        self.exclusions = exclusions;
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

    /// At most this many reads of a user's open detections per batch (see
    /// [`Worker::late_detections`]).
    pub fn with_late_detection_reads(mut self, n: usize) -> Self {
        self.late_detection_reads = n;
        self
    }

    pub fn with_lifecycle(mut self, handler: Arc<dyn LifecycleHandler>) -> Self {
        self.lifecycle = Some(handler);
        self
    }

    pub async fn process(&self, items: &[WorkItem]) -> BatchReport {
        let now = self.clock.now();
        let mut results: Vec<Result<(), WorkError>> = vec![Ok(()); items.len()];
        let mut seen: BTreeMap<UserId, Seen> = BTreeMap::new();
        let mut notices: Vec<(usize, Message)> = Vec::new();
        let mut late_items: Vec<(usize, String)> = Vec::new();

        for (i, item) in items.iter().enumerate() {
            if item.tenant_id() != self.tenant {
                tracing::warn!(tenant = %item.tenant_id(), "item for another tenant ignored");
                continue;
            }
            match item {
                WorkItem::Observation(o) => {
                    if let Err(e) = self.gather(i, o, now, &mut seen).await {
                        tracing::warn!(error = %e, "could not read a hinted user; the item will be retried");
                        results[i] = Err(e);
                    }
                }
                WorkItem::Lifecycle(event) => {
                    if let Some(h) = &self.lifecycle {
                        results[i] = h.handle(event, now).await.map_err(WorkError::Lifecycle);
                    } else {
                        tracing::info!(subscription = %event.subscription_id, event = ?event.event, "lifecycle event (no subscription upkeep configured)");
                    }
                }
                WorkItem::Notice { message, .. } => notices.push((i, message.clone())),
                WorkItem::LateDetections { cycle_id, .. } => late_items.push((i, cycle_id.clone())),
                WorkItem::Summary { slot, .. } => match self.summary(*slot, now).await {
                    Ok(m) => notices.push((i, m)),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not build the summary; the item will be retried");
                        results[i] = Err(e);
                    }
                },
            }
        }

        // A cycle's held-back alerts: their detections read now, their users reconciled below.
        let mut waited: Vec<UserId> = Vec::new();
        for (i, cycle) in &late_items {
            match self.read_late(*i, cycle, now, &mut seen).await {
                Ok(ids) => waited.extend(ids),
                Err(e) => {
                    tracing::warn!(error = %e, "the held-back alerts could not be taken up; the item will be retried");
                    results[*i] = Err(e);
                }
            }
        }

        // Reconcile every user against the last-seen state.
        let mut changed: Vec<Changed> = Vec::new();
        // Users holding folded detections (and when they are due), and users holding none.
        let mut folding: Vec<(UserId, OffsetDateTime)> = Vec::new();
        let mut unfolded: Vec<UserId> = Vec::new();
        // Whether any user came in holding folded detections (they leave the list even once
        // coalescing has been turned off).
        let mut had_folded = false;
        let mut writes: Vec<(UserId, UserState, Option<u64>)> = Vec::new();
        for (id, s) in &seen {
            let prev = match store::load::<UserState>(
                self.store.as_ref(),
                self.tenant,
                &store::keys::user(*id),
            )
            .await
            {
                Ok(p) => p,
                Err(e) => {
                    for i in &s.items {
                        results[*i] = Err(WorkError::Store(e.to_string()));
                    }
                    continue;
                }
            };
            let outcome = reconcile(prev.as_ref().map(|p| &p.value), &s.user, &s.detections);
            // A stale observation changes nothing and may write nothing.
            if let Some(mut next) = outcome.next {
                if s.baseline.is_some() {
                    next.baseline_at = s.baseline;
                } else {
                    let d = coalesce::decide(
                        prev.as_ref().map(|p| &p.value),
                        outcome.change,
                        outcome.detections,
                        self.repeat_window,
                        now,
                    );
                    if let Some(change) = d.change {
                        let previous = prev
                            .as_ref()
                            .map(|p| (p.value.risk_level.clone(), p.value.risk_state.clone()));
                        // An ended risk belongs to the episode it ends.
                        let episode_start = if change.is_ongoing() {
                            next.episode_start
                        } else {
                            prev.as_ref().and_then(|p| p.value.episode_start)
                        };
                        changed.push(Changed {
                            id: *id,
                            change,
                            detections: d.detections,
                            previous,
                            episode_start,
                            told: prev
                                .as_ref()
                                .map(|p| p.value.told.clone())
                                .unwrap_or_default(),
                        });
                    }
                    match d.last_alert_at {
                        Some(last) if !d.folded.is_empty() => {
                            folding.push((*id, last + self.repeat_window));
                        }
                        _ => unfolded.push(*id),
                    }
                    had_folded |= prev.as_ref().is_some_and(|p| !p.value.folded.is_empty());
                    next.folded = d.folded;
                    next.last_alert_at = d.last_alert_at;
                }
                if prev.as_ref().map(|p| &p.value) == Some(&next) {
                    continue;
                }
                writes.push((*id, next, prev.map(|p| p.version)));
            }
        }

        let mut alerts = self.enrich(changed, &seen, now).await;
        let held = self.late_detections(&mut alerts, &seen, now).await;
        for (id, detections) in held.read {
            // Remember them, so a later window that lists them does not call them new.
            if let Some((_, next, _)) = writes.iter_mut().find(|(w, _, _)| *w == id) {
                next.known_detections
                    .extend(detections.into_iter().map(|d| d.id));
            }
        }
        // Held back for the cycle's reads: neither posted nor recorded now (the book holds them).
        writes.retain(|(id, _, _)| !held.waiting.contains(id));
        self.apply_snoozes(&mut alerts, now).await;
        self.apply_actions(&mut alerts, now).await;
        let mut messages: Vec<Message> = alerts
            .iter()
            .cloned()
            .map(|a| Message::User(Box::new(a)))
            .collect();
        messages.extend(notices.iter().map(|(_, m)| m.clone()));
        let delivery = if messages.is_empty() {
            Report::default()
        } else {
            self.delivery.deliver(&messages, now).await
        };
        // A stop fails what it interrupted; that says nothing about the message.
        let (failed, parked) = if self.parking && !crate::http::stopping() {
            self.park(&delivery, &messages, now).await
        } else {
            (delivery.failed_keys(), Vec::new())
        };

        for (i, m) in &notices {
            if failed.contains(m.key()) {
                results[*i] = Err(WorkError::Delivery(describe_failures(&delivery, m.key())));
            }
        }
        let alert_key: HashMap<UserId, &str> =
            alerts.iter().map(|a| (a.user.id, a.key.as_str())).collect();
        // Every destination an ongoing alert reached is told of the episode from now on.
        for a in alerts.iter().filter(|a| a.change.is_ongoing()) {
            if let Some((_, next, _)) = writes.iter_mut().find(|(w, _, _)| *w == a.user.id) {
                for (sink, _) in delivery.reached.iter().filter(|(_, k)| *k == a.key) {
                    if !next.told.contains(sink) {
                        next.told.push(sink.clone());
                    }
                }
            }
        }
        // The poll cycle must learn of folded detections before the state holding them is saved;
        // if it cannot, those users are not saved and their items fail, to be retried.
        let wrote: HashSet<UserId> = writes.iter().map(|(id, _, _)| *id).collect();
        if !folding.is_empty()
            && let Err(e) = self
                .update_folding(|f| {
                    for (id, at) in &folding {
                        f.set(*id, *at);
                    }
                })
                .await
        {
            tracing::warn!(error = %e, "could not record folded detections; those users are retried");
            let held: HashSet<UserId> = folding.iter().map(|(id, _)| *id).collect();
            writes.retain(|(id, _, _)| !held.contains(id));
            for id in &held {
                for i in &seen[id].items {
                    results[*i] = Err(WorkError::Store(e.clone()));
                }
            }
        }
        // A user whose alert did not reach every sink keeps its old state; the rest are saved in
        // one grouped write, each still conditional on the version read.
        let mut saving: Vec<UserId> = Vec::new();
        let mut docs: Vec<(String, serde_json::Value, Option<u64>)> = Vec::new();
        for (id, next, version) in writes {
            let items = &seen[&id].items;
            if let Some(key) = alert_key.get(&id)
                && failed.contains(*key)
            {
                for i in items {
                    results[*i] = Err(WorkError::Delivery(describe_failures(&delivery, key)));
                }
                continue;
            }
            match serde_json::to_value(&next) {
                Ok(v) => {
                    saving.push(id);
                    docs.push((store::keys::user(id), v, version));
                }
                Err(e) => {
                    for i in items {
                        results[*i] = Err(WorkError::Store(e.to_string()));
                    }
                }
            }
        }
        let saved = if docs.is_empty() {
            Ok(Vec::new())
        } else {
            self.store.put_many(self.tenant, &docs).await
        };
        for (n, id) in saving.iter().enumerate() {
            let outcome = match &saved {
                Ok(s) if s.get(n) == Some(&true) => continue,
                Ok(_) => WorkError::Conflict,
                Err(e) => WorkError::Store(e.to_string()),
            };
            for i in &seen[id].items {
                results[*i] = Err(outcome.clone());
            }
        }
        // Users whose state now holds nothing folded leave the list, once that state is saved (an
        // entry left behind costs one more hint, never a detection).
        let saved_ids: HashSet<UserId> = match &saved {
            Ok(s) => saving
                .iter()
                .zip(s)
                .filter(|(_, ok)| **ok)
                .map(|(id, _)| *id)
                .collect(),
            Err(_) => HashSet::new(),
        };
        // The held-back alerts that went out, and whose state is saved, leave the book.
        if !waited.is_empty() {
            let done: Vec<UserId> = waited
                .iter()
                .filter(|id| saved_ids.contains(id) || !wrote.contains(id))
                .filter(|id| alert_key.get(id).is_none_or(|k| !failed.contains(*k)))
                .copied()
                .collect();
            if let Err(e) = store::update(
                self.store.as_ref(),
                self.tenant,
                store::keys::LATE_DETECTIONS,
                |book: &mut crate::late::LateReads| book.done(&done),
            )
            .await
            {
                tracing::info!(error = %e, "could not clear the held-back alerts that went out; the next cycle's reads find them recorded and post nothing twice");
            }
        }
        let leaving: Vec<UserId> = unfolded
            .into_iter()
            .filter(|id| saved_ids.contains(id) || !wrote.contains(id))
            .collect();
        if (self.repeat_window > time::Duration::ZERO || had_folded)
            && !leaving.is_empty()
            && let Err(e) = self
                .update_folding(|f| {
                    for id in &leaving {
                        f.remove(*id);
                    }
                })
                .await
        {
            tracing::info!(error = %e, "could not tidy the folded-detections list; the next cycle hints those users once more");
        }
        BatchReport {
            results,
            delivery,
            alerts: messages,
            parked,
        }
    }

    /// The standing summary for a scheduled time: every user Graph lists at risk, enriched as an
    /// alert would be (the verdict says whether they can self-remediate), excluded users counted
    /// but not listed, snoozed ones marked. Its key is the slot's, so a retried item posts once.
    async fn summary(
        &self,
        slot: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Message, WorkError> {
        let users: Vec<RiskyUser> = self
            .graph
            .risky_users_at_risk_pages()
            .all()
            .await?
            .into_iter()
            // Nobody can act on a deleted account's risk; the baseline leaves them out too.
            .filter(|u| !u.is_deleted)
            .collect();
        let changed: Vec<Changed> = users
            .iter()
            .map(|u| Changed {
                id: u.id,
                change: if u.risk_state == RiskState::ConfirmedCompromised {
                    Change::ConfirmedCompromised
                } else {
                    Change::NewRisk
                },
                detections: Vec::new(),
                previous: None,
                episode_start: None,
                told: Vec::new(),
            })
            .collect();
        let total = changed.len();
        let seen: BTreeMap<UserId, Seen> = users
            .into_iter()
            .map(|user| {
                (
                    user.id,
                    Seen {
                        items: Vec::new(),
                        user,
                        detections: Vec::new(),
                        baseline: None,
                        cycle: None,
                        late: None,
                    },
                )
            })
            .collect();
        let alerts = self.enrich(changed, &seen, now).await;
        let mut snoozes = match crate::source::snoozes::load(self.store.as_ref(), self.tenant).await
        {
            Ok((book, _)) => book,
            Err(e) => {
                tracing::warn!(error = %e, "the snoozes could not be read; the summary marks nobody as snoozed");
                Default::default()
            }
        };
        // How long each has been at risk, as riskrelay recorded it (one read per listed user, once
        // a day); an unreadable state only loses that figure.
        let mut episode: HashMap<UserId, OffsetDateTime> = HashMap::new();
        for a in &alerts {
            if let Ok(Some(s)) = store::load::<UserState>(
                self.store.as_ref(),
                self.tenant,
                &store::keys::user(a.user.id),
            )
            .await
                && let Some(t) = s.value.episode_start
            {
                episode.insert(a.user.id, t);
            }
        }
        let mut entries: Vec<crate::summary::SummaryEntry> = alerts
            .iter()
            .map(|a| crate::summary::SummaryEntry {
                display_name: a.display_name(),
                upn: a.upn(),
                level: a.user.risk_level.clone(),
                state: a.user.risk_state.clone(),
                since: a.user.risk_last_updated_date_time,
                at_risk_since: episode.get(&a.user.id).copied(),
                remediation: a.verdict.as_ref().map(|v| v.headline().to_string()),
                snoozed: snoozes
                    .of(a.user.id, a.upn().as_deref(), now)
                    .map(|s| crate::snooze::SnoozedNote::from(&*s)),
            })
            .collect();
        // The riskiest first, then the longest-standing.
        entries.sort_by(|a, b| {
            b.level.rank().cmp(&a.level.rank()).then(
                a.at_risk_since
                    .or(a.since)
                    .cmp(&b.at_risk_since.or(b.since)),
            )
        });
        Ok(Message::Summary(crate::alert::Summary {
            key: format!("summary/{}/{}", self.tenant, slot.unix_timestamp()),
            tenant_id: self.tenant,
            excluded: total - alerts.len(),
            entries,
            at: now,
        }))
    }

    /// Changes the list of users holding folded detections (one document per tenant).
    async fn update_folding(
        &self,
        change: impl FnMut(&mut coalesce::Folding),
    ) -> Result<(), String> {
        store::update(
            self.store.as_ref(),
            self.tenant,
            store::keys::FOLDING,
            change,
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// Holds back the alerts a snooze covers and marks those that break through it (see
    /// [`crate::snooze`]). The state of a held-back user is still recorded. When the snoozes
    /// cannot be read, every alert is posted: an alert too many beats a compromise nobody hears of.
    /// Adds the action buttons, and recalls an analyst's action where it explains the change
    /// (a confirmed compromise after "Confirm compromised"), so the channel reads one story.
    async fn apply_actions(&self, alerts: &mut [UserAlert], now: OffsetDateTime) {
        let Some(config) = &self.actions else {
            return;
        };
        if alerts.is_empty() {
            return;
        }
        let taken = match crate::actions::taken::recent(self.store.as_ref(), self.tenant, now).await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "the actions taken could not be read; alerts do not mention them"
                );
                Vec::new()
            }
        };
        for a in alerts.iter_mut() {
            a.acted = taken
                .iter()
                .rev()
                .find(|n| n.user_id == a.user.id && n.explains(&a.change))
                .cloned();
            if a.change.is_ongoing() && !a.user.is_deleted {
                a.actions = config
                    .actions
                    .iter()
                    .filter(|k| {
                        !(matches!(a.change, crate::alert::Change::ConfirmedCompromised)
                            && **k == crate::action_link::ActionKind::Confirm)
                    })
                    .map(|k| config.button(self.tenant, a.user.id, &a.key, *k, now))
                    .collect();
            }
        }
    }

    async fn apply_snoozes(&self, alerts: &mut Vec<UserAlert>, now: OffsetDateTime) {
        if alerts.is_empty() {
            return;
        }
        let (mut book, version) = match crate::source::snoozes::load(
            self.store.as_ref(),
            self.tenant,
        )
        .await
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "the snoozes could not be read; every alert is posted");
                return;
            }
        };
        if book.active.is_empty() {
            return;
        }
        let mut changed = false;
        alerts.retain_mut(|a| {
            let upn = a.upn();
            let Some(s) = book.of(a.user.id, upn.as_deref(), now) else {
                return true;
            };
            if s.user_id.is_none() {
                s.user_id = Some(a.user.id);
                changed = true;
            }
            if s.level.is_none() {
                s.level = Some(
                    a.previous
                        .as_ref()
                        .map(|(l, _)| l.clone())
                        .unwrap_or_else(|| a.user.risk_level.clone()),
                );
                changed = true;
            }
            if a.breaks_through(s) {
                a.snoozed = Some(crate::snooze::SnoozedNote::from(&*s));
                true
            } else {
                s.held += 1;
                changed = true;
                tracing::info!(user = %a.user.id, kind = %a.change.kind(), "alert held back: the user is snoozed");
                false
            }
        });
        if changed {
            // What was learnt (the id, the level) and the count; best effort: a lost write only
            // costs the count, and the level is learnt again from the next alert.
            match store::save(
                self.store.as_ref(),
                self.tenant,
                store::keys::SNOOZES,
                &book,
                version,
            )
            .await
            {
                Ok(true) => {}
                Ok(false) => tracing::info!(
                    "the snoozes changed meanwhile; this batch's count is not recorded"
                ),
                Err(e) => tracing::warn!(error = %e, "could not record what the snoozes held back"),
            }
        }
    }

    /// Parks what failed for good or too often; returns the keys still failed, and what was
    /// parked. When the store cannot say, nothing is parked and every failure stands.
    async fn park(
        &self,
        report: &Report,
        messages: &[Message],
        now: OffsetDateTime,
    ) -> (HashSet<String>, Vec<(String, String)>) {
        let failed: Vec<parking::Failed<'_>> = report
            .failures
            .iter()
            .flat_map(|f| {
                f.keys.iter().filter_map(move |k| {
                    messages
                        .iter()
                        .find(|m| m.key() == k)
                        .map(|message| parking::Failed {
                            message,
                            sink: &f.sink,
                            error: &f.error,
                        })
                })
            })
            .collect();
        let settled = match parking::settle(
            self.store.as_ref(),
            self.tenant,
            &failed,
            &report.posted,
            now,
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not update the parked messages; the failures stand");
                return (report.failed_keys(), Vec::new());
            }
        };
        if let Some(notice) = &settled.notice {
            let r = self
                .delivery
                .deliver(std::slice::from_ref(notice), now)
                .await;
            for f in r.failures {
                tracing::error!(sink = %f.sink, error = %f.error, "the notice about parked messages did not reach this destination");
            }
        }
        let parked: HashSet<(&str, &str)> = settled
            .parked
            .iter()
            .map(|(k, s)| (k.as_str(), s.as_str()))
            .collect();
        let still: HashSet<String> = report
            .failures
            .iter()
            .flat_map(|f| f.keys.iter().map(move |k| (k, f.sink.as_str())))
            .filter(|(k, sink)| !parked.contains(&(k.as_str(), *sink)))
            .map(|(k, _)| k.clone())
            .collect();
        (still, settled.parked)
    }

    /// Adds what an observation says about a user to `seen`, reading Graph when it came without
    /// data.
    async fn gather(
        &self,
        i: usize,
        o: &Observation,
        now: OffsetDateTime,
        seen: &mut BTreeMap<UserId, Seen>,
    ) -> Result<(), WorkError> {
        let baseline = matches!(o.origin, Origin::Baseline { .. }).then_some(o.observed_at);
        let users: Vec<UserId> = match &o.subject {
            Subject::RiskyUser { user_id } => vec![*user_id],
            Subject::User { user_id } => {
                // A directory change matters only while the user is at risk (a password change
                // about to remediate it); reading risk for every user update would spend the
                // tenant's identity-protection budget on nothing.
                let state = store::load::<UserState>(
                    self.store.as_ref(),
                    self.tenant,
                    &store::keys::user(*user_id),
                )
                .await?;
                if !state.is_some_and(|s| s.value.is_risky()) {
                    return Ok(());
                }
                vec![*user_id]
            }
            Subject::SecurityAlert { alert_id } => {
                match self.graph.security_alert_users(alert_id).await {
                    Ok(users) => users,
                    Err(e) if e.is_retryable() => return Err(e.into()),
                    Err(e) => {
                        // The legacy alerts API is retired in the commercial cloud: a missing or
                        // refused alert is logged and acknowledged, not retried forever.
                        tracing::warn!(alert = %alert_id, error = %e, "legacy security alert could not be read; ignored");
                        return Ok(());
                    }
                }
            }
        };
        if let (Some(f), [id]) = (&o.fetched, users.as_slice())
            && f.risky_user.id == *id
        {
            let cycle = match &o.origin {
                Origin::Poll { cycle_id } => Some(cycle_id.clone()),
                _ => None,
            };
            merge(
                seen,
                i,
                f.risky_user.clone(),
                f.detections.clone(),
                baseline,
                cycle,
            );
            return Ok(());
        }
        for id in users {
            let Some(user) = self.graph.risky_user(id).await? else {
                continue;
            };
            let since = now - DETECTION_LOOKBACK;
            let detections = self.graph.user_detections(id, since).await?;
            merge(seen, i, user, detections, baseline, None);
        }
        Ok(())
    }

    /// Builds the alerts: directory context for all changed users in `$batch`, registration
    /// details only where a verdict is needed, the posture snapshot once.
    async fn enrich(
        &self,
        mut changed: Vec<Changed>,
        seen: &BTreeMap<UserId, Seen>,
        now: OffsetDateTime,
    ) -> Vec<UserAlert> {
        // Excluded by id or name: not even enriched (no directory read spent on them).
        changed.retain(|c| {
            let upn = seen[&c.id].user.user_principal_name.as_deref();
            let named = self.exclusions.names(c.id, upn);
            if named {
                tracing::info!(user = %c.id, "user excluded by RISKRELAY_EXCLUDE: no alert, state recorded");
            }
            !named
        });
        if changed.is_empty() {
            return Vec::new();
        }
        let ids: Vec<UserId> = changed.iter().map(|c| c.id).collect();
        let ongoing: Vec<UserId> = changed
            .iter()
            .filter(|c| c.change.is_ongoing())
            .map(|c| c.id)
            .collect();
        let posture = match store::load::<PostureSnapshot>(
            self.store.as_ref(),
            self.tenant,
            store::keys::POSTURE,
        )
        .await
        {
            Ok(Some(p)) if now - p.value.checked_at <= POSTURE_MAX_AGE => p.value,
            Ok(Some(p)) => PostureSnapshot::unknown(
                &format!(
                    "the last posture check is {} minutes old",
                    (now - p.value.checked_at).whole_minutes()
                ),
                now,
            ),
            Ok(None) => PostureSnapshot::unknown("no posture check has run yet", now),
            Err(e) => PostureSnapshot::unknown(
                &format!("the posture snapshot could not be read: {e}"),
                now,
            ),
        };
        // Memberships only when some user-risk policy is scoped to groups or roles.
        let needs_membership = posture
            .user_risk_policies
            .value()
            .is_some_and(|ps| ps.iter().any(|p| p.needs_membership()));
        // Group exclusions need every changed user's groups (an ended risk is not said either);
        // Conditional Access scopes only those still at risk.
        let membership_of: &[UserId] = if self.exclusions.needs_membership() {
            &ids
        } else if needs_membership {
            &ongoing
        } else {
            &[]
        };
        // The directory and the authentication-methods reports are throttled as separate
        // services: their reads run side by side, each with its own `$batch`es in flight, so a
        // page of users is enriched in the time of the slower one. Both directory reads share
        // the directory's budget and go one after the other.
        let ((contexts, memberships), registrations) = tokio::join!(
            async {
                let contexts = self.graph.user_contexts(&ids).await;
                let memberships = if membership_of.is_empty() {
                    HashMap::new()
                } else {
                    self.graph.memberships(membership_of).await
                };
                (contexts, memberships)
            },
            async {
                if ongoing.is_empty() {
                    HashMap::new()
                } else {
                    self.graph.registrations(&ongoing).await
                }
            },
        );
        changed
            .into_iter()
            .map(
                |Changed {
                     id,
                     change,
                     detections,
                     previous,
                     episode_start,
                     told,
                 }| {
                    let user = seen[&id].user.clone();
                    let context = contexts.get(&id).cloned().unwrap_or(Lookup::Unavailable {
                        reason: "not read".into(),
                    });
                    let registration =
                        registrations
                            .get(&id)
                            .cloned()
                            .unwrap_or(Lookup::Unavailable {
                                reason: "not needed once the risk has ended".into(),
                            });
                    let membership = needs_membership.then(|| {
                        memberships
                            .get(&id)
                            .cloned()
                            .unwrap_or(Lookup::Unavailable {
                                reason: "not read".into(),
                            })
                    });
                    let verdict = change.is_ongoing().then(|| {
                        verdict(&Facts {
                            posture: &posture,
                            user: &user,
                            context: &context,
                            registration: &registration,
                            membership: membership.as_ref(),
                        })
                    });
                    UserAlert {
                        key: keys::user(self.tenant, &user, &change, &detections),
                        tenant_id: self.tenant,
                        change,
                        user,
                        previous,
                        detections,
                        context,
                        registration,
                        verdict,
                        detections_note: None,
                        episode_start,
                        admin_center: self.admin_center,
                        snoozed: None,
                        actions: Vec::new(),
                        acted: None,
                        told,
                    }
                },
            )
            .filter(|a: &UserAlert| {
                let groups = memberships.get(&a.user.id).and_then(Lookup::found);
                let excluded = self
                    .exclusions
                    .excludes(a.user.id, a.upn().as_deref(), groups);
                if excluded {
                    tracing::info!(user = %a.user.id, "user excluded by RISKRELAY_EXCLUDE: no alert, state recorded");
                }
                !excluded
            })
            .collect()
    }
}

/// Keeps the newest record of a user seen in the batch and every detection.
fn merge(
    seen: &mut BTreeMap<UserId, Seen>,
    item: usize,
    user: RiskyUser,
    detections: Vec<RiskDetection>,
    baseline: Option<OffsetDateTime>,
    cycle: Option<String>,
) {
    match seen.get_mut(&user.id) {
        Some(s) => {
            s.items.push(item);
            if user.risk_last_updated_date_time >= s.user.risk_last_updated_date_time {
                s.user = user;
            }
            s.detections.extend(detections);
            if baseline.is_none() {
                s.baseline = None;
            }
            s.cycle = s.cycle.take().or(cycle);
        }
        None => {
            seen.insert(
                user.id,
                Seen {
                    items: vec![item],
                    user,
                    detections,
                    baseline,
                    cycle,
                    late: None,
                },
            );
        }
    }
}

fn describe_failures(report: &Report, key: &str) -> String {
    report
        .failures
        .iter()
        .filter(|f| f.keys.iter().any(|k| k == key))
        .map(|f| format!("{}: {}", f.sink, f.error))
        .collect::<Vec<_>>()
        .join("; ")
}

#[async_trait::async_trait]
impl crate::queue::Consumer for Worker {
    async fn consume(&self, items: &[WorkItem]) -> Vec<Result<(), String>> {
        self.process(items)
            .await
            .results
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    }
}
