//! Phase 1, gather: what the batch's items say, per user. Observations that came with their data
//! are merged as they are; a webhook hint is read from Graph (one risky user, its recent
//! detections); a cycle's late-detection item brings the held-back users' open detections.
//! Notices and summaries pass through as messages to deliver; lifecycle events are handled here.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::{DETECTION_LOOKBACK, Outcomes, WorkError, Worker};
use crate::alert::Message;
use crate::ids::UserId;
use crate::observation::{Observation, Origin, Subject, WorkItem};
use crate::reconcile::UserState;
use crate::risk::{RiskDetection, RiskyUser};
use crate::store;

/// Everything the batch knows about one user.
pub(super) struct Seen {
    pub(super) items: Vec<usize>,
    pub(super) user: RiskyUser,
    pub(super) detections: Vec<RiskDetection>,
    /// When the observations were all part of the first run's baseline: when it was taken.
    pub(super) baseline: Option<OffsetDateTime>,
    /// The poll cycle that handed the user on with its data, when one did.
    pub(super) cycle: Option<String>,
    /// The user's open detections, read for a held-back alert (see `crate::late`), or why
    /// they could not be.
    pub(super) late: Option<Result<Vec<RiskDetection>, String>>,
}

/// What the gather phase hands on.
#[derive(Default)]
pub(super) struct Gathered {
    /// Every user the batch is about.
    pub(super) seen: BTreeMap<UserId, Seen>,
    /// Messages to deliver as they are (notices, the summary), with the item each came from.
    pub(super) notices: Vec<(usize, Message)>,
    /// The users of a cycle's held-back alerts whose detections were read now.
    pub(super) waited: Vec<UserId>,
    /// Service principals and agents observed, with the item each came from.
    pub(super) workloads: Vec<(usize, crate::workload::WorkloadObservation)>,
}

impl Worker {
    pub(super) async fn gather_all(
        &self,
        items: &[WorkItem],
        now: OffsetDateTime,
        outcomes: &mut Outcomes,
    ) -> Gathered {
        let mut out = Gathered::default();
        let mut late_items: Vec<(usize, String)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if item.tenant_id() != self.tenant {
                tracing::warn!(tenant = %item.tenant_id(), "item for another tenant ignored");
                continue;
            }
            match item {
                WorkItem::Observation(o) => {
                    if let Err(e) = self.gather(i, o, now, &mut out.seen).await {
                        tracing::warn!(error = %e, "could not read a hinted user; the item will be retried");
                        outcomes.fail_item(i, e);
                    }
                }
                WorkItem::Lifecycle(event) => {
                    if let Some(h) = &self.lifecycle {
                        if let Err(e) = h.handle(event, now).await {
                            outcomes.fail_item(i, WorkError::Lifecycle(e));
                        }
                    } else {
                        tracing::info!(subscription = %event.subscription_id, event = ?event.event, "lifecycle event (no subscription upkeep configured)");
                    }
                }
                WorkItem::Notice { message, .. } => out.notices.push((i, message.clone())),
                WorkItem::Workload(o) => out.workloads.push((i, (**o).clone())),
                WorkItem::LateDetections { cycle_id, .. } => late_items.push((i, cycle_id.clone())),
                WorkItem::Summary { slot, .. } => match self.summary(*slot, now).await {
                    Ok(m) => out.notices.push((i, m)),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not build the summary; the item will be retried");
                        outcomes.fail_item(i, e);
                    }
                },
            }
        }
        // A cycle's held-back alerts: their detections read now, their users reconciled next.
        for (i, cycle) in &late_items {
            match self.read_late(*i, cycle, now, &mut out.seen).await {
                Ok(ids) => out.waited.extend(ids),
                Err(e) => {
                    tracing::warn!(error = %e, "the held-back alerts could not be taken up; the item will be retried");
                    outcomes.fail_item(*i, e);
                }
            }
        }
        out
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
}

/// Keeps the newest record of a user seen in the batch and every detection.
pub(super) fn merge(
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
