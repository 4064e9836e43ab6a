//! Phase 2, decide: each user seen against the last-seen state (`crate::reconcile`), and a change
//! soon after a message about the user folded into the next one (`crate::coalesce`). Hands on the
//! changes to alert on, the states to record, and the folding bookkeeping.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::gather::Seen;
use super::{Outcomes, WorkError, Worker};
use crate::alert::Change;
use crate::coalesce;
use crate::ids::UserId;
use crate::reconcile::{UserState, reconcile};
use crate::risk::{RiskDetection, RiskLevel, RiskState};
use crate::store;

/// A user whose risk changed, before enrichment.
pub(super) struct Changed {
    pub(super) id: UserId,
    pub(super) change: Change,
    pub(super) detections: Vec<RiskDetection>,
    pub(super) previous: Option<(RiskLevel, RiskState)>,
    pub(super) episode_start: Option<OffsetDateTime>,
    /// The destinations told of the episode so far.
    pub(super) told: Vec<String>,
}

/// A user's next state, to be written conditionally on the version read.
pub(super) struct Write {
    pub(super) id: UserId,
    pub(super) next: UserState,
    pub(super) version: Option<u64>,
    /// Where the user counted before (see `crate::activity`).
    pub(super) before: Option<crate::activity::Bucket>,
}

/// Which users hold folded detections after this batch (see `crate::features::coalesce`).
#[derive(Default)]
pub(super) struct FoldingChanges {
    /// Users holding folded detections, and when they are due.
    pub(super) due: Vec<(UserId, OffsetDateTime)>,
    /// Users holding none.
    pub(super) unfolded: Vec<UserId>,
    /// Whether any user came in holding folded detections (they leave the list even once
    /// coalescing has been turned off).
    pub(super) had_folded: bool,
}

/// What the decide phase hands on.
#[derive(Default)]
pub(super) struct Decided {
    pub(super) changed: Vec<Changed>,
    pub(super) writes: Vec<Write>,
    pub(super) folding: FoldingChanges,
}

impl Decided {
    pub(super) fn write_of(&mut self, id: UserId) -> Option<&mut UserState> {
        self.writes
            .iter_mut()
            .find(|w| w.id == id)
            .map(|w| &mut w.next)
    }
}

impl Worker {
    pub(super) async fn decide(
        &self,
        seen: &BTreeMap<UserId, Seen>,
        now: OffsetDateTime,
        outcomes: &mut Outcomes,
    ) -> Decided {
        let mut out = Decided::default();
        // Every user's last-seen state in one grouped read (DynamoDB: 100 a call).
        let keys: Vec<String> = seen.keys().map(|id| store::keys::user(*id)).collect();
        let states =
            match store::load_many::<UserState>(self.store.as_ref(), self.tenant, &keys).await {
                Ok(states) => states,
                Err(e) => {
                    for id in seen.keys() {
                        outcomes.fail_user(*id, WorkError::Store(e.clone()));
                    }
                    return out;
                }
            };
        for ((id, s), prev) in seen.iter().zip(states) {
            let prev = match prev {
                Ok(p) => p,
                Err(e) => {
                    outcomes.fail_user(*id, WorkError::Store(e));
                    continue;
                }
            };
            let outcome = reconcile(prev.as_ref().map(|p| &p.value), &s.user, &s.detections);
            // A stale observation changes nothing and may write nothing.
            let Some(mut next) = outcome.next else {
                continue;
            };
            if s.baseline.is_some() {
                next.baseline_at = s.baseline;
            } else {
                let d = coalesce::decide(
                    prev.as_ref().map(|p| &p.value),
                    outcome.change,
                    outcome.detections,
                    self.policy.repeat_window,
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
                    out.changed.push(Changed {
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
                        out.folding
                            .due
                            .push((*id, last + self.policy.repeat_window));
                    }
                    _ => out.folding.unfolded.push(*id),
                }
                out.folding.had_folded |= prev.as_ref().is_some_and(|p| !p.value.folded.is_empty());
                next.folded = d.folded;
                next.last_alert_at = d.last_alert_at;
            }
            if prev.as_ref().map(|p| &p.value) == Some(&next) {
                continue;
            }
            out.writes.push(Write {
                id: *id,
                next,
                before: prev.as_ref().and_then(|p| {
                    crate::activity::bucket(&p.value.risk_level, &p.value.risk_state)
                }),
                version: prev.map(|p| p.version),
            });
        }
        out
    }
}
