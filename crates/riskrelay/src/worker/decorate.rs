//! Phase 5, decorate: the action buttons an ongoing alert carries (`crate::action_link`), and an
//! analyst's action recalled where it explains the change (a confirmed compromise after "Confirm
//! compromised"), so the channel reads one story.

use time::OffsetDateTime;

use super::Worker;
use crate::alert::UserAlert;

impl Worker {
    pub(super) async fn decorate(&self, alerts: &mut [UserAlert], now: OffsetDateTime) {
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
}
