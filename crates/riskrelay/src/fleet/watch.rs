//! The dead-man message's I/O half (the decisions are [`crate::poll_health`]'s): after each poll
//! of a tenant, its run of failures kept in the tenant's `poll-health` document (written here
//! only), and the message handed on when one is due.

use super::*;
use crate::alert::Message;
use crate::poll_health::{PollHealth, Tenant};
use crate::source::poll::Checkpoint;
use time::OffsetDateTime;

/// An error and its causes on one line, each cause left out when the text before already says it
/// (an error that prints its source, as `thiserror`'s `{0}` does).
pub fn chain_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if !text.contains(&c) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&c);
        }
    }
    text
}

impl<P: Polls> Fleet<P> {
    /// What follows a job for one tenant: a poll's outcome goes to the dead-man watch.
    pub(super) async fn after_job(
        &self,
        job: Job,
        app: &P,
        name: Option<&str>,
        result: &anyhow::Result<Done>,
    ) {
        if let Job::Poll(_) = job {
            let error = result.as_ref().err().map(chain_text);
            self.watch_poll(app, name, error.as_deref()).await;
        }
    }

    /// Records a poll of the tenant (`error` when it failed) and hands on the dead-man message
    /// or its end when one is due. The state is kept only once the message is handed on, so one
    /// that did not go out is tried again after the next poll.
    pub async fn watch_poll(&self, app: &P, name: Option<&str>, error: Option<&str>) {
        let base = app.base();
        let store = base.store.as_ref();
        let key = store::keys::POLL_HEALTH;
        let stored = match store::load::<PollHealth>(store, base.tenant, key).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the tenant's poll health");
                return;
            }
        };
        let version = stored.as_ref().map(|s| s.version);
        let before = stored.map(|s| s.value).unwrap_or_default();
        // The usual case, a poll that worked after one that worked: nothing to read or write.
        if error.is_none() && before == PollHealth::default() {
            return;
        }
        let last_success = store::load::<Checkpoint>(store, base.tenant, store::keys::CHECKPOINT)
            .await
            .ok()
            .flatten()
            .map(|c| c.value.at);
        let now = self.clock.now();
        let mut after = before.clone();
        let tenant = Tenant {
            id: base.tenant,
            name,
        };
        if let Some(notice) = after.record(tenant, error, last_success, now, self.base.stale_after)
        {
            tracing::warn!(tenant = %base.tenant, title = %notice.title, "poll health changed");
            if let Err(e) = self.tell(app, Message::Operations(notice), now).await {
                tracing::error!(error = %format!("{e:#}"), "could not hand on the message about failing polls; the next poll tries again");
                return;
            }
        }
        if after != before
            && let Err(e) = store::save(store, base.tenant, key, &after, version).await
        {
            tracing::warn!(error = %e, "could not record the tenant's poll health");
        }
    }

    /// An operations message about one tenant: through its own queue when this process serves
    /// one tenant (its worker delivers to its destinations), else to the shared destinations.
    async fn tell(&self, app: &P, message: Message, now: OffsetDateTime) -> anyhow::Result<()> {
        if self.single.is_some() {
            return app
                .queue()
                .enqueue(vec![WorkItem::Notice {
                    tenant_id: app.base().tenant,
                    message,
                }])
                .await
                .context("handing the message to the queue");
        }
        self.announce(message, now).await
    }
}
