//! The worker's half of late detections (see [`crate::late`], the book's rules): alerts that
//! would list no detection wait in the book for their cycle's reads, or are read now, or go out
//! with a note; the cycle's last work item takes up the waiting ones.

use std::collections::{BTreeMap, HashSet};

use time::OffsetDateTime;

use super::WorkError;
use super::gather::{Seen, merge};
use crate::alert::UserAlert;
use crate::ids::UserId;
use crate::late::{LateReads, Plan};
use crate::observation::Fetched;
use crate::risk::RiskDetection;
use crate::store;

/// What the late-detection step did to a batch's alerts.
#[derive(Default)]
pub(super) struct Held {
    /// The detections read, per user.
    pub read: Vec<(UserId, Vec<RiskDetection>)>,
    /// Users whose alert waits in the book for the cycle's reads.
    pub waiting: HashSet<UserId>,
}

impl super::Worker {
    /// Fills in the detections of ongoing alerts that would list none (see [`crate::late`]).
    /// Each read is one identity-protection request, so at most `late_detection_reads` per poll
    /// cycle, made after the cycle's pages: an alert of a cycle waits in the book for them
    /// (`waiting`), or is read now once the cycle's reads have begun, or goes out with a note past
    /// the cap. Alerts of no cycle (webhook hints, whose detections the worker read itself) are
    /// read within the same cap per batch. Returns what was read, and who waits.
    pub(super) async fn late_detections(
        &self,
        alerts: &mut Vec<UserAlert>,
        seen: &BTreeMap<UserId, Seen>,
        now: OffsetDateTime,
    ) -> Held {
        const NOTE: &str =
            "detections older than the poll window; see the user in the Entra admin center";
        let mut held = Held::default();
        let needing: Vec<usize> = alerts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.change.is_ongoing() && a.detections.is_empty())
            .map(|(i, _)| i)
            .collect();
        let mut read_now: Vec<usize> = Vec::new();
        let mut by_cycle: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut budget = self.policy.late_detection_reads;
        for i in needing {
            let s = &seen[&alerts[i].user.id];
            match (&s.late, &s.cycle) {
                // Read already, for this very alert: what is open, when none is new.
                (Some(Ok(found)), _) if found.is_empty() => {
                    alerts[i].detections_note =
                        Some("Graph lists no open detection for this user".into());
                }
                (Some(Ok(found)), _) => alerts[i].detections = found.clone(),
                (Some(Err(e)), _) => {
                    alerts[i].detections_note =
                        Some(format!("the user's detections could not be read ({e})"));
                }
                (None, Some(cycle)) => by_cycle.entry(cycle.clone()).or_default().push(i),
                (None, None) if budget > 0 => {
                    budget -= 1;
                    read_now.push(i);
                }
                (None, None) => alerts[i].detections_note = Some(NOTE.into()),
            }
        }
        let cap = self.policy.late_detection_reads;
        for (cycle, indexes) in by_cycle {
            let users: Vec<Fetched> = indexes
                .iter()
                // The user's record only: the read brings the open detections, and the book
                // stays small (a DynamoDB item holds 400 KB).
                .map(|&i| Fetched {
                    risky_user: seen[&alerts[i].user.id].user.clone(),
                    detections: Vec::new(),
                })
                .collect();
            let plans = store::update(
                self.store.as_ref(),
                self.tenant,
                store::keys::LATE_DETECTIONS,
                |book: &mut LateReads| book.plan(&cycle, &users, cap, now),
            )
            .await;
            let plans = match plans {
                Ok(p) => p,
                Err(e) => {
                    // The alert goes out now rather than wait on a book that cannot be kept.
                    tracing::warn!(error = %e, "could not hold alerts back for their detections; they go out now");
                    vec![Plan::Note; indexes.len()]
                }
            };
            for (i, plan) in indexes.into_iter().zip(plans) {
                match plan {
                    Plan::Wait => held.waiting.insert(alerts[i].user.id),
                    Plan::ReadNow => {
                        read_now.push(i);
                        true
                    }
                    Plan::Note => {
                        alerts[i].detections_note = Some(NOTE.into());
                        true
                    }
                };
            }
        }
        for i in read_now {
            let a = &mut alerts[i];
            match self.graph.open_detections(a.user.id).await {
                Ok(found) if found.is_empty() => {
                    a.detections_note = Some("Graph lists no open detection for this user".into());
                }
                Ok(found) => {
                    a.detections = found.clone();
                    held.read.push((a.user.id, found));
                }
                Err(e) => {
                    tracing::warn!(user = %a.user.id, error = %e, "could not read the user's open detections");
                    a.detections_note =
                        Some(format!("the user's detections could not be read ({e})"));
                }
            }
        }
        if !held.waiting.is_empty() {
            tracing::info!(
                users = held.waiting.len(),
                "alerts held back until the cycle's reads of their detections"
            );
            alerts.retain(|a| !held.waiting.contains(&a.user.id));
        }
        held
    }

    /// A cycle's reads begin: every alert waiting in the book (this cycle's, and any an earlier
    /// one left behind) gets its user's open detections, read now, and joins the batch as if
    /// its poll had brought them. Returns the users taken up.
    pub(super) async fn read_late(
        &self,
        item: usize,
        cycle: &str,
        now: OffsetDateTime,
        seen: &mut BTreeMap<UserId, Seen>,
    ) -> Result<Vec<UserId>, WorkError> {
        let waiting = store::update(
            self.store.as_ref(),
            self.tenant,
            store::keys::LATE_DETECTIONS,
            |book: &mut LateReads| book.close(cycle, now),
        )
        .await?;
        let mut ids = Vec::with_capacity(waiting.len());
        for w in waiting {
            let id = w.risky_user.id;
            let (mut detections, late) = match self.graph.open_detections(id).await {
                Ok(found) => (found.clone(), Ok(found)),
                Err(e) => {
                    tracing::warn!(user = %id, error = %e, "could not read the user's open detections");
                    (Vec::new(), Err(e.to_string()))
                }
            };
            detections.extend(w.detections);
            merge(seen, item, w.risky_user, detections, None, None);
            if let Some(s) = seen.get_mut(&id) {
                s.late = Some(late);
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// The held-back alerts that went out, and whose state is saved, leave the book.
    pub(super) async fn late_done(&self, done: &[UserId]) {
        if let Err(e) = store::update(
            self.store.as_ref(),
            self.tenant,
            store::keys::LATE_DETECTIONS,
            |book: &mut LateReads| book.done(done),
        )
        .await
        {
            tracing::info!(error = %e, "could not clear the held-back alerts that went out; the next cycle's reads find them recorded and post nothing twice");
        }
    }
}
