//! `riskrelay run`: the self-hosted service in one process — the webhook server, a scheduler
//! (poll, posture, subscription upkeep), the worker, an in-process queue and the SQLite store.
//!
//! Durability without a queue service: the poll cycle hands its observations to the worker
//! directly ([`InlineQueue`]) and advances the checkpoint only after every one was processed, so
//! a crash or a stop mid-cycle makes the next start re-read the same window; delivery records and
//! last-seen state in SQLite make that re-read post only what had not been posted. Webhook hints
//! go through an in-memory channel: they are wake-ups, and a lost one is caught by the next poll.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

use crate::checks;
use crate::config::PostureConfig;
use crate::observation::WorkItem;
use crate::poll::Poller;
use crate::queue::memory::MemoryQueue;
use crate::queue::{Queue, QueueError};
use crate::store::Store;
use crate::subscriptions::{PollTrigger, Upkeep};
use crate::webhook::Webhook;
use crate::worker::Worker;

/// Attempts per item before an in-process delivery gives up for this cycle.
const ATTEMPTS: u32 = 3;
const RETRY_DELAY: Duration = Duration::from_secs(2);

/// A queue that processes what it is given before returning: `enqueue` succeeds only when every
/// item went through the worker (retrying failures a few times).
pub struct InlineQueue {
    worker: Arc<Worker>,
    retry_delay: Duration,
}

impl InlineQueue {
    pub fn new(worker: Arc<Worker>) -> Self {
        Self {
            worker,
            retry_delay: RETRY_DELAY,
        }
    }

    pub fn with_retry_delay(mut self, d: Duration) -> Self {
        self.retry_delay = d;
        self
    }
}

#[async_trait]
impl Queue for InlineQueue {
    async fn enqueue(&self, items: Vec<WorkItem>) -> Result<(), QueueError> {
        let total = items.len();
        let mut pending = items;
        for attempt in 1..=ATTEMPTS {
            let report = self.worker.process(&pending).await;
            let mut failed = Vec::new();
            let mut reason = String::new();
            for (item, result) in pending.into_iter().zip(report.results) {
                if let Err(e) = result {
                    reason = e.to_string();
                    failed.push(item);
                }
            }
            if failed.is_empty() {
                return Ok(());
            }
            if attempt == ATTEMPTS {
                return Err(QueueError::Rejected {
                    failed: failed.len(),
                    total,
                    reason,
                });
            }
            tracing::warn!(failed = failed.len(), attempt, error = %reason, "retrying failed items");
            tokio::time::sleep(self.retry_delay).await;
            pending = failed;
        }
        Ok(())
    }
}

/// How often each job runs.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub poll: Duration,
    pub posture: Duration,
    pub subscriptions: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(120),
            posture: Duration::from_secs(900),
            subscriptions: Duration::from_secs(6 * 3600),
        }
    }
}

/// The running service's parts.
pub struct Service {
    pub poller: Arc<Poller>,
    pub worker: Arc<Worker>,
    pub store: Arc<dyn Store>,
    pub graph: crate::graph::GraphClient,
    pub tenant: crate::ids::TenantId,
    pub posture: PostureConfig,
    pub upkeep: Option<Arc<Upkeep>>,
    pub webhook: Option<(SocketAddr, crate::config::WebhookConfig)>,
    pub schedule: Schedule,
}

/// What `--once` did.
#[derive(Debug, Default)]
pub struct OnceReport {
    pub posture_exit: u8,
    pub poll: Option<crate::poll::PollReport>,
    pub failures: Vec<String>,
}

/// Asks the scheduler for an immediate poll (a `missed` lifecycle event).
pub struct PollSignal(pub Arc<Notify>);

#[async_trait]
impl PollTrigger for PollSignal {
    async fn poll_now(&self) -> Result<(), String> {
        self.0.notify_one();
        Ok(())
    }
}

impl Service {
    /// Runs the posture checks and hands their alerts to the worker; saves the episode state
    /// only once they went through.
    pub async fn posture_job(&self) -> Result<u8, String> {
        let queue = InlineQueue::new(self.worker.clone());
        checks::run_and_hand_over(
            &self.graph,
            self.store.as_ref(),
            self.tenant,
            &self.posture,
            &queue,
        )
        .await
        .map(|run| run.report.exit_code())
        .map_err(|e| format!("{e:#}"))
    }

    /// One posture check and one poll cycle with their deliveries.
    pub async fn once(&self) -> OnceReport {
        let mut report = OnceReport::default();
        match self.posture_job().await {
            Ok(code) => report.posture_exit = code,
            Err(e) => report.failures.push(format!("posture check: {e}")),
        }
        match self.poller.poll().await {
            Ok(p) => report.poll = Some(p),
            Err(e) => report.failures.push(format!("poll: {e}")),
        }
        report
    }

    /// Runs until `stop` turns true. A job in progress finishes first.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let poll_now = Arc::new(Notify::new());
        let mut tasks = tokio::task::JoinSet::new();
        if let Some((addr, config)) = &self.webhook {
            let (queue, mut rx) = MemoryQueue::new();
            let app = Arc::new(Webhook::new(config, Arc::new(queue)));
            let listener = crate::server::bind(*addr).await?;
            tracing::info!(address = %listener.local_addr()?, "webhook listening");
            let mut s = stop.clone();
            tasks.spawn(crate::server::serve(listener, app, async move {
                stopped(&mut s).await
            }));
            let worker = self.worker.clone();
            let mut s = stop.clone();
            tasks.spawn(async move {
                loop {
                    let first = tokio::select! {
                        item = rx.recv() => item,
                        () = stopped(&mut s) => None,
                    };
                    let Some(first) = first else { break };
                    let mut batch = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                    }
                    if let Err(e) = InlineQueue::new(worker.clone()).enqueue(batch).await {
                        tracing::warn!(error = %e, "webhook hints dropped after retries; the next poll re-reads those users");
                    }
                }
            });
        }
        let me = self.clone();
        let trigger = poll_now.clone();
        let mut s = stop.clone();
        tasks.spawn(async move {
            let mut poll = tokio::time::interval(me.schedule.poll);
            let mut posture = tokio::time::interval(me.schedule.posture);
            let mut subs = tokio::time::interval(me.schedule.subscriptions);
            for i in [&mut poll, &mut posture, &mut subs] {
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            }
            loop {
                tokio::select! {
                    biased;
                    () = stopped(&mut s) => break,
                    _ = posture.tick() => {
                        if let Err(e) = me.posture_job().await {
                            tracing::error!(error = %e, "posture check failed");
                        }
                    }
                    _ = poll.tick() => {
                        if let Err(e) = me.poller.poll().await {
                            tracing::error!(error = %e, "poll cycle failed; the next one re-reads the window");
                        }
                    }
                    _ = trigger.notified() => {
                        if let Err(e) = me.poller.poll().await {
                            tracing::error!(error = %e, "poll cycle failed");
                        }
                    }
                    _ = subs.tick() => {
                        if let Some(u) = &me.upkeep
                            && let Err(e) = u.ensure(OffsetDateTime::now_utc()).await
                        {
                            tracing::error!(error = %e, "subscription upkeep failed");
                        }
                    }
                }
            }
        });
        stopped(&mut stop).await;
        tracing::info!("stopping: letting the job in progress finish");
        while tasks.join_next().await.is_some() {}
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes once the stop flag is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|v| *v).await;
}
