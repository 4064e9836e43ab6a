//! Phase 5, decorate: the action buttons an ongoing alert carries (`crate::action_link`), and an
//! analyst's action recalled where it explains the change (a confirmed compromise after "Confirm
//! compromised"), so the channel reads one story.

use time::OffsetDateTime;

use super::Worker;
use crate::alert::{Change, UserAlert};
use crate::ids::UserId;
use crate::workload::WorkloadAlert;

impl Worker {
    pub(super) async fn decorate(
        &self,
        alerts: &mut [UserAlert],
        workloads: &mut [WorkloadAlert],
        now: OffsetDateTime,
    ) {
        let Some(config) = &self.actions else {
            return;
        };
        if alerts.is_empty() && workloads.is_empty() {
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
        let recall = |id: &str, kind, change: &Change| {
            taken
                .iter()
                .rev()
                .find(|n| n.about(id, kind) && n.explains(change))
                .cloned()
        };
        for a in alerts.iter_mut() {
            a.acted = recall(&a.user.id.to_string(), None, &a.change);
            if a.change.is_ongoing() && !a.user.is_deleted {
                let confirmed = matches!(a.change, Change::ConfirmedCompromised);
                a.actions = config.buttons(self.tenant, a.user.id, None, &a.key, confirmed, now);
            }
        }
        for a in workloads.iter_mut() {
            let kind = Some(a.workload.kind);
            a.acted = recall(&a.workload.id, kind, &a.change);
            // Buttons only for an id Graph can be asked about in a path: a GUID (Microsoft's
            // examples show ids that are not).
            if let (true, Ok(id)) = (a.change.is_ongoing(), UserId::parse(&a.workload.id)) {
                let confirmed = matches!(a.change, Change::ConfirmedCompromised);
                a.actions = config.buttons(self.tenant, id, kind, &a.key, confirmed, now);
            }
        }
    }
}
