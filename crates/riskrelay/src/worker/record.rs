//! Phase 7, record: what the batch learnt, saved once its messages went out. A user whose alert
//! did not reach every destination keeps its old state (its item fails, and the queue's retry
//! posts only what is missing); the rest are saved in one grouped write, each conditional on the
//! version read. The features' bookkeeping follows the saved states: the folding list
//! (`crate::features::coalesce`) and the late-detection book (`crate::late`).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::decide::{Decided, FoldingChanges, Write};
use super::gather::Gathered;
use super::send::Delivered;
use super::{WorkError, Worker};
use crate::activity::{Bucket, bucket};
use crate::alert::UserAlert;
use crate::features::coalesce;
use crate::ids::UserId;
use crate::store;

impl Worker {
    pub(super) async fn record(
        &self,
        gathered: &Gathered,
        mut decided: Decided,
        alerts: &[UserAlert],
        delivered: &Delivered,
        outcomes: &mut Outcomes,
    ) {
        for (i, m) in &gathered.notices {
            if delivered.failed.contains(m.key()) {
                outcomes.fail_item(*i, WorkError::Delivery(delivered.failures_of(m.key())));
            }
        }
        // Every destination an ongoing alert reached is told of the episode from now on.
        for a in alerts.iter().filter(|a| a.change.is_ongoing()) {
            if let Some(next) = decided.write_of(a.user.id) {
                for (sink, _) in delivered.report.reached.iter().filter(|(_, k)| *k == a.key) {
                    if !next.told.contains(sink) {
                        next.told.push(sink.clone());
                    }
                }
            }
        }
        let alert_key: HashMap<UserId, &str> =
            alerts.iter().map(|a| (a.user.id, a.key.as_str())).collect();
        let wrote: HashSet<UserId> = decided.writes.iter().map(|w| w.id).collect();
        let folding = std::mem::take(&mut decided.folding);
        // The poll cycle must learn of folded detections before the state holding them is saved;
        // if it cannot, those users are not saved and their items fail, to be retried.
        if let Err(e) = coalesce::record_due(self.store.as_ref(), self.tenant, &folding.due).await {
            tracing::warn!(error = %e, "could not record folded detections; those users are retried");
            let held: HashSet<UserId> = folding.due.iter().map(|(id, _)| *id).collect();
            decided.writes.retain(|w| !held.contains(&w.id));
            for id in held {
                outcomes.fail_user(id, WorkError::Store(e.clone()));
            }
        }
        let moves: Vec<(UserId, Option<Bucket>, Option<Bucket>)> = decided
            .writes
            .iter()
            .map(|w| {
                (
                    w.id,
                    w.before,
                    bucket(&w.next.risk_level, &w.next.risk_state),
                )
            })
            .collect();
        let saved = self
            .save_states(decided.writes, &alert_key, delivered, outcomes)
            .await;
        self.record_activity(&moves, &saved, alerts, delivered)
            .await;
        // The held-back alerts that went out, and whose state is saved, leave the book.
        let settled = |id: &&UserId| saved.contains(*id) || !wrote.contains(*id);
        if !gathered.waited.is_empty() {
            let done: Vec<UserId> = gathered
                .waited
                .iter()
                .filter(settled)
                .filter(|id| {
                    alert_key
                        .get(id)
                        .is_none_or(|k| !delivered.failed.contains(*k))
                })
                .copied()
                .collect();
            self.late_done(&done).await;
        }
        self.tidy_folding(folding, &saved, &wrote).await;
    }

    /// Saves every state whose user's alert reached every destination, in one grouped write.
    /// Returns the users saved.
    async fn save_states(
        &self,
        writes: Vec<Write>,
        alert_key: &HashMap<UserId, &str>,
        delivered: &Delivered,
        outcomes: &mut Outcomes,
    ) -> HashSet<UserId> {
        let mut saving: Vec<UserId> = Vec::new();
        let mut docs: Vec<(String, serde_json::Value, Option<u64>)> = Vec::new();
        for Write {
            id, next, version, ..
        } in writes
        {
            if let Some(key) = alert_key.get(&id)
                && delivered.failed.contains(*key)
            {
                outcomes.fail_user(id, WorkError::Delivery(delivered.failures_of(key)));
                continue;
            }
            match serde_json::to_value(&next) {
                Ok(v) => {
                    saving.push(id);
                    docs.push((store::keys::user(id), v, version));
                }
                Err(e) => outcomes.fail_user(id, WorkError::Encode(e.to_string())),
            }
        }
        if docs.is_empty() {
            return HashSet::new();
        }
        match self.store.put_many(self.tenant, &docs).await {
            Ok(done) => {
                let mut saved = HashSet::new();
                for (n, id) in saving.into_iter().enumerate() {
                    if done.get(n) == Some(&true) {
                        saved.insert(id);
                    } else {
                        outcomes.fail_user(id, WorkError::Conflict);
                    }
                }
                saved
            }
            Err(e) => {
                for id in saving {
                    outcomes.fail_user(id, WorkError::Store(e.clone()));
                }
                HashSet::new()
            }
        }
    }

    /// The saved states' moves between the at-risk counts, and the user alerts that reached a
    /// destination, into the activity figures. A failure is logged: the counts are figures, and
    /// the daily summary sets them right again.
    async fn record_activity(
        &self,
        moves: &[(UserId, Option<Bucket>, Option<Bucket>)],
        saved: &HashSet<UserId>,
        alerts: &[UserAlert],
        delivered: &Delivered,
    ) {
        let moves: Vec<(Option<Bucket>, Option<Bucket>)> = moves
            .iter()
            .filter(|(id, _, _)| saved.contains(id))
            .map(|(_, b, a)| (*b, *a))
            .collect();
        let reached: HashSet<&str> = delivered
            .report
            .reached
            .iter()
            .map(|(_, k)| k.as_str())
            .collect();
        let alerted = alerts
            .iter()
            .filter(|a| reached.contains(a.key.as_str()))
            .count() as u32;
        if let Err(e) = crate::features::activity::record(
            self.store.as_ref(),
            self.tenant,
            &moves,
            alerted,
            self.clock.now(),
        )
        .await
        {
            tracing::warn!(error = %e, "could not update the activity figures; the daily summary sets them right");
        }
    }

    /// Users whose state now holds nothing folded leave the folding list, once that state is
    /// saved.
    async fn tidy_folding(
        &self,
        folding: FoldingChanges,
        saved: &HashSet<UserId>,
        wrote: &HashSet<UserId>,
    ) {
        if self.policy.repeat_window <= time::Duration::ZERO && !folding.had_folded {
            return;
        }
        let leaving: Vec<UserId> = folding
            .unfolded
            .into_iter()
            .filter(|id| saved.contains(id) || !wrote.contains(id))
            .collect();
        if let Err(e) = coalesce::tidy(self.store.as_ref(), self.tenant, &leaving).await {
            tracing::info!(error = %e, "could not tidy the folded-detections list; the next cycle hints those users once more");
        }
    }
}

/// Per-item results, computed once at the end: an item fails with its own error or with the
/// error of a user it carried (the last one recorded).
pub(super) struct Outcomes {
    items: Vec<Option<WorkError>>,
    users: Vec<(UserId, WorkError)>,
}

impl Outcomes {
    pub(super) fn new(items: usize) -> Self {
        Self {
            items: vec![None; items],
            users: Vec::new(),
        }
    }

    pub(super) fn fail_item(&mut self, item: usize, e: WorkError) {
        self.items[item] = Some(e);
    }

    pub(super) fn fail_user(&mut self, user: UserId, e: WorkError) {
        self.users.push((user, e));
    }

    pub(super) fn finish(
        mut self,
        seen: &BTreeMap<UserId, super::gather::Seen>,
    ) -> Vec<Result<(), WorkError>> {
        for (user, e) in self.users {
            for i in seen
                .get(&user)
                .map(|s| s.items.as_slice())
                .unwrap_or_default()
            {
                self.items[*i] = Some(e.clone());
            }
        }
        self.items
            .into_iter()
            .map(|e| e.map_or(Ok(()), Err))
            .collect()
    }
}
