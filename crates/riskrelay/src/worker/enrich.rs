//! Phase 3, enrich: each change made an alert, with the user's directory context and
//! registration (in `$batch`), group memberships where exclusions or Conditional Access need them,
//! the posture snapshot once, and the verdict; excluded users dropped. The standing summary's users
//! are enriched the same way.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use super::decide::Changed;
use super::gather::Seen;
use super::{POSTURE_MAX_AGE, WorkError, Worker};
use crate::alert::{Change, Message, UserAlert, keys};
use crate::context::Lookup;
use crate::ids::UserId;
use crate::posture::PostureSnapshot;
use crate::risk::{RiskState, RiskyUser};
use crate::store;
use crate::verdict::{Facts, verdict};

impl Worker {
    /// Builds the alerts: directory context for all changed users in `$batch`, registration
    /// details only where a verdict is needed, the posture snapshot once.
    pub(super) async fn enrich(
        &self,
        mut changed: Vec<Changed>,
        seen: &BTreeMap<UserId, Seen>,
        now: OffsetDateTime,
    ) -> Vec<UserAlert> {
        // Excluded by id or name: not even enriched (no directory read spent on them).
        changed.retain(|c| {
            let upn = seen[&c.id].user.user_principal_name.as_deref();
            let named = self.policy.exclude.names(c.id, upn);
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
        let membership_of: &[UserId] = if self.policy.exclude.needs_membership() {
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
                    .policy
                    .exclude
                    .excludes(a.user.id, a.upn().as_deref(), groups);
                if excluded {
                    tracing::info!(user = %a.user.id, "user excluded by RISKRELAY_EXCLUDE: no alert, state recorded");
                }
                !excluded
            })
            .collect()
    }

    /// The standing summary for a scheduled time: every user Graph lists at risk, enriched as an
    /// alert would be (the verdict says whether they can self-remediate); the message itself is
    /// composed by the summary's feature (`crate::features::summary`).
    pub(super) async fn summary(
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
        let at_risk = crate::activity::count(users.iter().map(|u| (&u.risk_level, &u.risk_state)));
        if let Err(e) =
            crate::features::activity::counted(self.store.as_ref(), self.tenant, at_risk, now).await
        {
            tracing::warn!(error = %e, "could not set the at-risk counts from Graph's list");
        }
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
        let listed = self.enrich(changed, &seen, now).await;
        let workloads = self.workloads_at_risk().await;
        Ok(crate::features::summary::compose(
            self.store.as_ref(),
            self.tenant,
            slot,
            &listed,
            total,
            workloads,
            now,
        )
        .await)
    }

    /// The service principals and agents at risk now, for the summary: only the kinds the poll
    /// cycle reads (one identity-protection request a page, once a day), the excluded left out.
    /// One that cannot be read now only leaves its kind out of this summary.
    async fn workloads_at_risk(&self) -> Vec<crate::summary::WorkloadEntry> {
        use crate::workload::{WorkloadKind, WorkloadWatch};
        let watch = match store::load::<WorkloadWatch>(
            self.store.as_ref(),
            self.tenant,
            store::keys::WORKLOAD_RISK,
        )
        .await
        {
            Ok(w) => w.map(|w| w.value).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "the workload identities' watch could not be read; the summary lists users only");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for kind in WorkloadKind::ALL.into_iter().filter(|k| watch.readable(*k)) {
            match self.graph.risky_workloads_pages(kind, None).all().await {
                Ok(list) => out.extend(
                    list.iter()
                        .filter(|w| {
                            w.risk_state.is_risky()
                                && !self
                                    .policy
                                    .exclude
                                    .names_workload(&w.id, w.app_id.as_deref())
                        })
                        .map(crate::summary::WorkloadEntry::of),
                ),
                Err(e) => {
                    tracing::warn!(kind = kind.name(), error = %e, "risky workload identities could not be read for the summary; it leaves them out");
                }
            }
        }
        out
    }
}
