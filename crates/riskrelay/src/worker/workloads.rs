//! Workload identities through the worker, beside the users: each service principal or agent the
//! batch observed, against its last-seen state (`crate::workload::reconcile`); the changes made
//! alerts with their context read in `$batch`es and the steps the team can take; after delivery,
//! the states of those whose alert reached every destination saved, each conditional on the
//! version read, and the items of the rest failed so the queue retries them.

use std::collections::BTreeMap;

use super::send::Delivered;
use super::{Outcomes, WorkError, Worker};
use crate::context::Lookup;
use crate::store;
use crate::workload::{
    RiskyWorkload, WorkloadAlert, WorkloadDetection, WorkloadKind, WorkloadObservation,
    WorkloadState, alert_key, reconcile, steps,
};

/// Everything the batch knows about one identity: its items, newest record and detections.
type Seen = (Vec<usize>, RiskyWorkload, Vec<WorkloadDetection>);

/// A workload identity's next state, to save once its alert is out.
pub(super) struct WorkloadWrite {
    items: Vec<usize>,
    key: String,
    next: WorkloadState,
    version: Option<u64>,
    /// The alert about it, when there is one.
    alert: Option<String>,
}

/// What the workload path hands the send and record phases.
#[derive(Default)]
pub(super) struct WorkloadsDecided {
    pub(super) alerts: Vec<WorkloadAlert>,
    writes: Vec<WorkloadWrite>,
}

impl Worker {
    /// Reconciles and enriches every workload identity the batch observed.
    pub(super) async fn decide_workloads(
        &self,
        observed: &[(usize, &WorkloadObservation)],
        outcomes: &mut Outcomes,
    ) -> WorkloadsDecided {
        // One entry per identity: its newest record and every detection the items carried.
        let mut seen: BTreeMap<(WorkloadKind, String), Seen> = BTreeMap::new();
        for (i, o) in observed {
            let w = &o.workload;
            let entry = seen
                .entry((w.kind, w.id.clone()))
                .or_insert_with(|| (Vec::new(), w.clone(), Vec::new()));
            entry.0.push(*i);
            if w.risk_last_updated >= entry.1.risk_last_updated {
                entry.1 = w.clone();
            }
            entry.2.extend(o.detections.iter().cloned());
        }
        let mut out = WorkloadsDecided::default();
        let mut changed: Vec<WorkloadAlert> = Vec::new();
        let keys: Vec<String> = seen
            .keys()
            .map(|(kind, id)| store::keys::workload(*kind, id))
            .collect();
        let states = match store::load_many::<WorkloadState>(
            self.store.as_ref(),
            self.tenant,
            &keys,
        )
        .await
        {
            Ok(states) => states,
            Err(e) => {
                for i in seen.values().flat_map(|(items, _, _)| items) {
                    outcomes.fail_item(*i, WorkError::Store(e.clone()));
                }
                return out;
            }
        };
        for (((kind, _), (items, w, detections)), (key, prev)) in
            seen.into_iter().zip(keys.into_iter().zip(states))
        {
            let prev = match prev {
                Ok(p) => p,
                Err(e) => {
                    for i in items {
                        outcomes.fail_item(i, WorkError::Store(e.clone()));
                    }
                    continue;
                }
            };
            let r = reconcile(prev.as_ref().map(|p| &p.value), &w, &detections);
            let Some(next) = r.next else {
                continue;
            };
            let excluded = self
                .policy
                .exclude
                .names_workload(&w.id, w.app_id.as_deref());
            let alert = match r.change {
                Some(change) if !excluded => {
                    let a = WorkloadAlert {
                        key: alert_key(self.tenant, &w, &change, &r.detections),
                        tenant_id: self.tenant,
                        previous: prev
                            .as_ref()
                            .map(|p| (p.value.risk_level.clone(), p.value.risk_state.clone())),
                        detections: r.detections,
                        context: Lookup::Unavailable {
                            reason: "not read yet".into(),
                        },
                        steps: Vec::new(),
                        episode_start: next
                            .episode_start
                            .or(prev.as_ref().and_then(|p| p.value.episode_start)),
                        admin_center: self.admin_center,
                        told: prev
                            .as_ref()
                            .map(|p| p.value.told.clone())
                            .unwrap_or_default(),
                        change,
                        workload: w,
                        actions: Vec::new(),
                        acted: None,
                        snoozed: None,
                    };
                    let k = a.key.clone();
                    changed.push(a);
                    Some(k)
                }
                Some(_) => {
                    tracing::info!(
                        kind = kind.name(),
                        "an excluded workload identity's risk changed; no alert"
                    );
                    None
                }
                None => None,
            };
            out.writes.push(WorkloadWrite {
                items,
                key,
                next,
                version: prev.map(|p| p.version),
                alert,
            });
        }
        if changed.is_empty() {
            return out;
        }
        // Context for the service principals (an agent identity is a service principal too).
        let ids: Vec<String> = changed.iter().map(|a| a.workload.id.clone()).collect();
        let mut contexts = self.graph.workload_contexts(self.tenant, &ids).await;
        for mut a in changed {
            if let Some((context, credentials)) = contexts.remove(&a.workload.id) {
                a.context = match context {
                    Lookup::Found(mut c) => {
                        c.name_credentials(&a.detections, &credentials);
                        Lookup::Found(c)
                    }
                    other => other,
                };
            }
            if a.change.is_ongoing() {
                a.steps = steps(self.tenant, &a.workload, a.context.found());
            }
            out.alerts.push(a);
        }
        out
    }

    /// Saves the states of the workload identities whose alert went out everywhere; fails the
    /// items of the rest.
    pub(super) async fn record_workloads(
        &self,
        decided: WorkloadsDecided,
        delivered: &Delivered,
        outcomes: &mut Outcomes,
    ) {
        let mut saving: Vec<Vec<usize>> = Vec::new();
        let mut docs: Vec<(String, serde_json::Value, Option<u64>)> = Vec::new();
        for mut w in decided.writes {
            if let Some(key) = &w.alert {
                if delivered.failed.contains(key) {
                    for i in &w.items {
                        outcomes.fail_item(*i, WorkError::Delivery(delivered.failures_of(key)));
                    }
                    continue;
                }
                if w.next.is_risky() {
                    for (sink, _) in delivered.report.reached.iter().filter(|(_, k)| k == key) {
                        if !w.next.told.contains(sink) {
                            w.next.told.push(sink.clone());
                        }
                    }
                }
            }
            match serde_json::to_value(&w.next) {
                Ok(v) => {
                    docs.push((w.key, v, w.version));
                    saving.push(w.items);
                }
                Err(e) => {
                    for i in w.items {
                        outcomes.fail_item(i, WorkError::Encode(e.to_string()));
                    }
                }
            }
        }
        if docs.is_empty() {
            return;
        }
        // One grouped write, as the users' states are saved (`record`).
        match self.store.put_many(self.tenant, &docs).await {
            Ok(done) => {
                for (n, items) in saving.into_iter().enumerate() {
                    if done.get(n) != Some(&true) {
                        for i in items {
                            outcomes.fail_item(i, WorkError::Conflict);
                        }
                    }
                }
            }
            Err(e) => {
                for i in saving.into_iter().flatten() {
                    outcomes.fail_item(i, WorkError::Store(e.clone()));
                }
            }
        }
    }
}
