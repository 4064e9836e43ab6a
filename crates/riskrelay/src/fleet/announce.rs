//! The deployment's own messages (consent changes, deployment-wide problems) to the shared
//! destinations: delivered by the process that delivers, else handed to the queue.

use super::*;
use crate::alert::Message;
use crate::deliver::Delivery;
use crate::observation::WorkItem;
use crate::sink::Sink;
use crate::tenancy;
use anyhow::Context as _;
use async_trait::async_trait;
use std::sync::Arc;
use time::OffsetDateTime;

impl<P: Parts> Fleet<P> {
    /// For the processes that deliver (the worker, `riskrelay run`): the configured destinations,
    /// built once and shared by the tenants that post to them (so they share each one's pace),
    /// and operations messages about tenants delivered here, to the shared destinations (the
    /// MSP's own), instead of handed to the queue. A method the poller never calls, so that its
    /// binary does not carry the delivery code.
    pub fn delivering(mut self) -> Self {
        self.announcer = Some(Arc::new(SharedDestinations));
        self.with_destinations()
    }

    /// An operations message to the shared destinations: delivered here (see
    /// [`Fleet::delivering_notices`]), else handed to the queue for the worker.
    pub async fn announce(&self, message: Message, now: OffsetDateTime) -> anyhow::Result<()> {
        if let Some(a) = &self.announcer {
            return a.announce(self, message, now).await;
        }
        let queue = self
            .queue
            .as_ref()
            .context("no queue to hand the message to")?;
        queue
            .enqueue(vec![WorkItem::Notice {
                tenant_id: tenancy::deployment(),
                message,
            }])
            .await
            .context("handing the message to the queue")
    }

    /// The destinations no tenant claims as its own, plus this process's.
    pub(super) async fn shared_delivery(&self) -> anyhow::Result<Delivery> {
        let claimed = self.registry().await?.claimed_sinks();
        let mut sinks: Vec<Arc<dyn Sink>> = self
            .configured
            .iter()
            .filter(|s| !claimed.contains(s.name()))
            .cloned()
            .collect();
        sinks.extend(self.local.iter().cloned());
        Ok(crate::app::delivery(
            &self.base.alerts,
            self.store.clone(),
            sinks,
        ))
    }
}

/// Where a process that delivers sends operations messages (see [`Fleet::delivering`]).
#[async_trait]
pub(super) trait Announce<P: Parts>: Send + Sync {
    async fn announce(
        &self,
        fleet: &Fleet<P>,
        message: Message,
        now: OffsetDateTime,
    ) -> anyhow::Result<()>;
}

pub(super) struct SharedDestinations;

#[async_trait]
impl<P: Parts> Announce<P> for SharedDestinations {
    async fn announce(
        &self,
        fleet: &Fleet<P>,
        message: Message,
        now: OffsetDateTime,
    ) -> anyhow::Result<()> {
        let delivery = fleet.shared_delivery().await?;
        if delivery.is_empty() {
            // Every configured destination is some tenant's own: the message stays in the log.
            tracing::error!(message = %crate::render::view(&message).fallback, "no shared destination for this operations message: every destination in RISKRELAY_SINKS belongs to a tenant; add one that none names");
            return Ok(());
        }
        let report = delivery.deliver(&[message], now).await;
        match report.failures.first() {
            None => Ok(()),
            Some(f) => anyhow::bail!("{}: {}", f.sink, f.error),
        }
    }
}
