//! The tenants one process serves, and each tenant's parts. With `RISKRELAY_TENANTS=config` (the
//! default) that is the one tenant's parts of `RISKRELAY_TENANT_ID`, exactly as configured. With
//! `registry` it is one set of parts per registered tenant, built from the deployment's settings and
//! the tenant's record ([`Settings::for_tenant`]) when first needed and rebuilt when its record
//! changes: its own Graph client (token cache, identity-protection budget), its own checkpoint
//! and state in its own store partition, and its destinations.
//!
//! A job (poll, posture, subscriptions) runs for every tenant side by side, at most
//! `RISKRELAY_TENANT_CONCURRENCY` at once. Each tenant's budget is its own (1 request per second
//! per tenant), so a cycle over many tenants takes about as long as the slowest one. A tenant
//! whose consent is pending or lost only has its token tried; one that is refused is announced
//! once to the shared destinations and never holds up the others.

mod announce;
mod consent;
mod pages;
mod registry;
mod watch;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use futures_util::StreamExt as _;

use crate::app::{Adapters, Delivers, Parts, Polls, Settings};
use crate::clock::Clock;
use crate::config::{ConfigError, Env};
use crate::http::RetryPolicy;
use crate::ids::TenantId;
use crate::observation::WorkItem;
use crate::queue::{Queue, QueueError};
use crate::sink::Sink;
use crate::source::poll::{PollReport, PollTrigger};
use crate::store::{self, Store};
use crate::tenancy::{self, Mode, Outcome, Registry, TenantRecord, TenantStatus};

use announce::Announce;
use consent::{outcome_of, outcome_of_graph};
pub use registry::{Imported, import, register, statuses, unregister};
pub use watch::chain_text;

/// Tenants worked on at once unless `RISKRELAY_TENANT_CONCURRENCY` says otherwise. A tenant's
/// cycle mostly waits on its own 1 request/s budget, so a task costs little but a socket and a
/// few kilobytes; the cap only bounds a very large registry.
pub const DEFAULT_CONCURRENCY: usize = 250;

/// How far apart the tenants of one job start (see [`Fleet::each`]), over at most one second
/// (Graph's spacing of identity-protection requests): a few tenants barely wait, and 200 leave
/// at most one request every 5 ms, which a small machine sends on time.
const STAGGER_STEP: std::time::Duration = std::time::Duration::from_millis(5);
const STAGGER_MAX: std::time::Duration = std::time::Duration::from_secs(1);

pub fn concurrency(env: &Env) -> Result<usize, ConfigError> {
    env.or(
        "RISKRELAY_TENANT_CONCURRENCY",
        "a whole number from 1 to 1000",
        DEFAULT_CONCURRENCY,
        crate::config::count(1..=1000),
    )
}

/// A scheduled job, run for each tenant.
#[derive(Debug, Clone, Copy)]
pub enum Job {
    /// A poll cycle that stops reading at the deadline, if any.
    Poll(Option<tokio::time::Instant>),
    Posture,
    Subscriptions,
}

/// What a job did for one tenant.
#[derive(Debug)]
pub enum Done {
    Poll(PollReport),
    /// The posture check's exit code.
    Posture(u8),
    Subscriptions,
    /// Not run: the tenant's consent is pending or lost and its token was refused again.
    Skipped,
}

#[derive(Debug)]
pub struct TenantRun {
    pub tenant: TenantId,
    /// The registered name (the MSP mode only).
    pub name: Option<String>,
    pub result: Result<Done, String>,
}

/// Why the fleet did not get a work item done.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Work(#[from] crate::worker::WorkError),
    /// The registry could not be read, or the tenant's parts built.
    #[error("{0:#}")]
    Parts(Arc<anyhow::Error>),
    #[error("the operations message was not delivered: {0:#}")]
    Announce(Arc<anyhow::Error>),
    #[error("only notices belong to no tenant")]
    NotANotice,
}

/// What one tenant's job leaves to record: its outcome, and the status it was decided against.
#[derive(Clone)]
struct Settle {
    record: TenantRecord,
    stored: Option<store::Versioned<TenantStatus>>,
    outcome: Outcome,
}

/// One tenant's parts, and what they were built from.
struct Built<P> {
    record: TenantRecord,
    sinks: Vec<String>,
    app: Arc<P>,
}

/// The tenants' parts, each of type `P` (see [`crate::app::Parts`]): what a job can do with them
/// follows from `P` — polling jobs need [`Polls`], work items [`Delivers`].
pub struct Fleet<P: Parts> {
    mode: Mode,
    base: Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    /// The configured destinations, built once so that tenants sharing one share its pace.
    configured: Vec<Arc<dyn Sink>>,
    /// This process's own destinations (the console), which hear about every tenant.
    local: Vec<Arc<dyn Sink>>,
    queue: Option<Arc<dyn Queue>>,
    inline_retry: RetryPolicy,
    poll_trigger: Option<Arc<dyn PollTrigger>>,
    concurrency: usize,
    single: Option<Arc<P>>,
    built: tokio::sync::Mutex<HashMap<TenantId, Built<P>>>,
    announcer: Option<Arc<dyn Announce<P>>>,
}

impl<P: Parts> Fleet<P> {
    /// The tenants' parts. A process that delivers then calls [`Fleet::delivering`].
    pub fn build(
        settings: &Settings,
        adapters: Adapters,
        mode: Mode,
        concurrency: usize,
    ) -> anyhow::Result<Self> {
        let http = match &adapters.http {
            Some(h) => h.clone(),
            None => crate::app::http_client(settings)?,
        };
        let store = adapters.store.clone();
        let clock = adapters.clock.clone();
        let mut fleet = Self {
            mode,
            base: settings.clone(),
            store,
            clock,
            configured: Vec::new(),
            local: adapters.built_sinks.clone(),
            queue: adapters.queue.clone(),
            inline_retry: adapters.inline_retry.clone(),
            poll_trigger: adapters.poll_trigger.clone(),
            http: http.clone(),
            concurrency: concurrency.max(1),
            single: None,
            built: Default::default(),
            announcer: None,
        };
        if mode == Mode::Registry
            && matches!(
                settings.graph.credential,
                crate::graph::config::GraphCredential::AccessToken(_)
            )
        {
            anyhow::bail!(
                "RISKRELAY_TENANTS=registry needs the app's certificate or client secret: an access token is good for one tenant only"
            );
        }
        if mode == Mode::Config {
            let adapters = Adapters {
                http: Some(http),
                ..adapters
            };
            fleet.single = Some(Arc::new(P::build(settings, adapters)?));
        }
        Ok(fleet)
    }

    /// Tenants' parts that post (the follow-up message of the action pages, and alerts with
    /// [`Fleet::delivering`]) get their share of the configured destinations, built once here so
    /// that tenants sharing one share its pace.
    pub fn with_destinations(mut self) -> Self {
        if self.mode == Mode::Config {
            // The one tenant's parts have built their destinations already.
            return self;
        }
        // Tenants share these: a burst across tenants gathers into one digest (see
        // [`crate::sink::gather`]).
        let threshold = self.base.alerts.digest_threshold;
        self.configured = crate::app::destinations(&self.base.alerts.sinks, &self.http)
            .into_iter()
            .map(|s| Arc::new(crate::sink::gather::Gathering::new(s, threshold)) as Arc<dyn Sink>)
            .collect();
        self.built = Default::default();
        self
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The one tenant's parts in the `config` mode.
    pub fn single(&self) -> Option<&Arc<P>> {
        self.single.as_ref()
    }

    /// The registry as stored (empty when nothing was added).
    pub async fn registry(&self) -> anyhow::Result<Registry> {
        store::registry::load(self.store.as_ref()).await
    }

    /// Every tenant's parts, (re)built to match the registry as it is now.
    pub async fn tenants(&self) -> anyhow::Result<Vec<(Option<TenantRecord>, Arc<P>)>> {
        self.select(None).await
    }

    /// Every tenant's parts, or only those in `only` (a tenant's job in AWS, a batch of work
    /// items), from one read of the registry: a tenant's parts are built when first needed, so
    /// an invocation for one tenant builds one.
    async fn select(
        &self,
        only: Option<&HashSet<TenantId>>,
    ) -> anyhow::Result<Vec<(Option<TenantRecord>, Arc<P>)>> {
        if let Some(app) = &self.single {
            if only.is_some_and(|o| !o.contains(&app.base().tenant)) {
                return Ok(Vec::new());
            }
            return Ok(vec![(None, app.clone())]);
        }
        let registry = self.registry().await?;
        let mut built = self.built.lock().await;
        built.retain(|id, _| registry.tenants.contains_key(id));
        let mut out = Vec::new();
        for record in registry.tenants.values() {
            if only.is_some_and(|o| !o.contains(&record.id)) {
                continue;
            }
            let settings = self.base.for_tenant(&registry, record)?;
            let sinks: Vec<String> = settings
                .alerts
                .sinks
                .iter()
                .map(|s| s.name.clone())
                .collect();
            let fresh = built
                .get(&record.id)
                .is_some_and(|b| b.record == *record && b.sinks == sinks);
            if !fresh {
                let app = self
                    .build_tenant(settings, &sinks)
                    .with_context(|| format!("tenant {} ({})", record.name, record.id))?;
                built.insert(
                    record.id,
                    Built {
                        record: record.clone(),
                        sinks,
                        app: Arc::new(app),
                    },
                );
            }
            let b = &built[&record.id];
            out.push((Some(b.record.clone()), b.app.clone()));
        }
        Ok(out)
    }

    fn build_tenant(&self, mut settings: Settings, sinks: &[String]) -> anyhow::Result<P> {
        // The destinations were built once for the process; the tenant gets its share of them.
        settings.alerts.sinks.clear();
        let mut local: Vec<Arc<dyn Sink>> = self
            .configured
            .iter()
            .filter(|s| sinks.iter().any(|n| n == s.name()))
            .cloned()
            .collect();
        local.extend(self.local.iter().cloned());
        let adapters = Adapters {
            store: self.store.clone(),
            queue: self.queue.clone(),
            inline_retry: self.inline_retry.clone(),
            built_sinks: local,
            poll_trigger: self.poll_trigger.clone(),
            clock: self.clock.clone(),
            http: Some(self.http.clone()),
        };
        P::build(&settings, adapters)
    }

    /// One tenant's parts, if it is served here.
    pub async fn app(&self, tenant: TenantId) -> anyhow::Result<Option<Arc<P>>> {
        Ok(self.apps([tenant].into()).await?.remove(&tenant))
    }

    /// The parts of each of these tenants that is served here, by tenant.
    async fn apps(&self, tenants: HashSet<TenantId>) -> anyhow::Result<HashMap<TenantId, Arc<P>>> {
        Ok(self
            .select(Some(&tenants))
            .await?
            .into_iter()
            .map(|(_, app)| (app.base().tenant, app))
            .collect())
    }
}

impl<P: Polls> Fleet<P> {
    /// Runs a job for every tenant, side by side up to the concurrency cap. The tenants'
    /// outcomes are recorded together at the end: a refusal every tenant shares is the
    /// deployment's, said once, and no tenant is marked as having lost access for it.
    pub async fn each(&self, job: Job) -> anyhow::Result<Vec<TenantRun>> {
        let tenants = self.tenants().await?;
        let n = tenants.len().max(1) as u32;
        let window = (STAGGER_STEP * n).min(STAGGER_MAX);
        let done: Vec<(TenantRun, Option<Settle>)> =
            futures_util::stream::iter(tenants.into_iter().enumerate())
                .map(|(i, (record, app))| {
                    use tracing::Instrument as _;
                    let span = match &record {
                        Some(r) => tracing::info_span!("tenant", id = %r.id, name = %r.name),
                        None => tracing::Span::none(),
                    };
                    // Tenants start spread out: each then keeps its own 1 request/s pace, so
                    // their identity-protection requests stay spread out instead of all leaving
                    // at the same instant every second (a burst that delays some of them on the
                    // way out, and so brings a tenant's next one closer than a second to its
                    // last at Graph's end: measured, 9 of 800 throttled at 200 tenants without
                    // this).
                    let start = window * i as u32 / n;
                    async move {
                        tokio::time::sleep(start).await;
                        self.one(job, record, app).await
                    }
                    .instrument(span)
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        let settles: Vec<Settle> = done.iter().filter_map(|(_, s)| s.clone()).collect();
        self.settle_all(settles).await;
        Ok(done.into_iter().map(|(run, _)| run).collect())
    }

    /// Runs a job for one tenant (a poll job taken off the queue in AWS); `None` when the tenant
    /// is not served here (removed since the job was queued).
    pub async fn run_for(&self, tenant: TenantId, job: Job) -> anyhow::Result<Option<TenantRun>> {
        let found = self
            .select(Some(&[tenant].into()))
            .await?
            .into_iter()
            .next();
        Ok(match found {
            Some((record, app)) => {
                let (run, settle) = self.one(job, record, app).await;
                self.settle_all(settle.into_iter().collect()).await;
                Some(run)
            }
            None => None,
        })
    }

    async fn one(
        &self,
        job: Job,
        record: Option<TenantRecord>,
        app: Arc<P>,
    ) -> (TenantRun, Option<Settle>) {
        let Some(record) = record else {
            let result = run(app.as_ref(), job).await;
            self.after_job(job, &app, None, &result).await;
            return (
                TenantRun {
                    tenant: app.base().tenant,
                    name: None,
                    result: result.map_err(|e| format!("{e:#}")),
                },
                None,
            );
        };
        let stored = match store::load::<TenantStatus>(
            self.store.as_ref(),
            record.id,
            tenancy::STATUS,
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                return (
                    TenantRun {
                        tenant: record.id,
                        name: Some(record.name),
                        result: Err(format!("reading the tenant's status: {e}")),
                    },
                    None,
                );
            }
        };
        let status = stored.as_ref().map(|v| v.value.clone()).unwrap_or_default();
        // A tenant without access is only asked for a token: cheap, and it fails at once.
        if !status.is_usable()
            && let Err(e) = app.base().graph.token_check().await
        {
            let outcome = outcome_of_graph(&e);
            tracing::info!(tenant = %record.id, name = %record.name, consent = status.consent.name(), error = %e, "tenant skipped: no access yet");
            return (
                TenantRun {
                    tenant: record.id,
                    name: Some(record.name.clone()),
                    result: Ok(Done::Skipped),
                },
                Some(Settle {
                    record,
                    stored,
                    outcome,
                }),
            );
        }
        let result = run(app.as_ref(), job).await;
        self.after_job(job, &app, Some(&record.name), &result).await;
        let outcome = match &result {
            Ok(Done::Poll(_)) => Outcome::Polled,
            Ok(_) => Outcome::Worked,
            Err(e) => outcome_of(e),
        };
        (
            TenantRun {
                tenant: record.id,
                name: Some(record.name.clone()),
                result: result.map_err(|e| format!("{e:#}")),
            },
            Some(Settle {
                record,
                stored,
                outcome,
            }),
        )
    }
}

impl<P: Delivers> Fleet<P> {
    /// Work items for the worker, each to its tenant's worker; a deployment-wide notice to the
    /// shared destinations. One result per item, in order.
    pub async fn process(&self, items: &[WorkItem]) -> Vec<Result<(), ProcessError>> {
        if let Some(app) = &self.single {
            return work(app.as_ref(), items).await;
        }
        let mut results: Vec<Result<(), ProcessError>> = vec![Ok(()); items.len()];
        let by_tenant = crate::observation::by_tenant(items);
        let apps = self
            .apps(by_tenant.keys().copied().collect())
            .await
            .map_err(Arc::new);
        // The tenants of a batch side by side: each spends its own Graph budget, and their
        // alerts to a shared destination gather into one digest rather than queue one by one.
        let outcomes =
            futures_util::future::join_all(by_tenant.into_iter().map(|(tenant, indexes)| {
                let batch: Vec<WorkItem> = indexes.iter().map(|&i| items[i].clone()).collect();
                let apps = &apps;
                async move { (indexes, self.process_tenant(tenant, batch, apps).await) }
            }))
            .await;
        for (indexes, outcome) in outcomes {
            for (i, r) in indexes.into_iter().zip(outcome) {
                results[i] = r;
            }
        }
        results
    }

    /// One tenant's items of a batch (the deployment's own: its notices).
    async fn process_tenant(
        &self,
        tenant: TenantId,
        batch: Vec<WorkItem>,
        apps: &Result<HashMap<TenantId, Arc<P>>, Arc<anyhow::Error>>,
    ) -> Vec<Result<(), ProcessError>> {
        if tenant == tenancy::deployment() {
            let mut out = Vec::new();
            for item in batch {
                out.push(match item {
                    WorkItem::Notice { message, .. } => self
                        .announce(message, self.clock.now())
                        .await
                        .map_err(|e| ProcessError::Announce(Arc::new(e))),
                    _ => Err(ProcessError::NotANotice),
                });
            }
            return out;
        }
        match apps.as_ref().map(|a| a.get(&tenant)) {
            Ok(Some(app)) => work(app.as_ref(), &batch).await,
            // A tenant removed since the item was queued: nothing to do for it.
            Ok(None) => {
                tracing::warn!(%tenant, items = batch.len(), "work for a tenant that is not registered dropped");
                vec![Ok(()); batch.len()]
            }
            Err(e) => vec![Err(ProcessError::Parts(e.clone())); batch.len()],
        }
    }
}

/// Work items through one tenant's worker: one result per item.
async fn work(app: &impl Delivers, items: &[WorkItem]) -> Vec<Result<(), ProcessError>> {
    app.worker()
        .process(items)
        .await
        .results
        .into_iter()
        .map(|r| r.map_err(ProcessError::from))
        .collect()
}

/// Runs one job on one tenant's parts.
async fn run(app: &impl Polls, job: Job) -> anyhow::Result<Done> {
    match job {
        Job::Poll(deadline) => Ok(Done::Poll(app.poller().poll_until(deadline).await?)),
        Job::Posture => Ok(Done::Posture(app.posture_job().await?.report.exit_code())),
        Job::Subscriptions => {
            let base = app.base();
            base.upkeep()?.ensure(base.clock.now()).await?;
            Ok(Done::Subscriptions)
        }
    }
}

/// The queue the webhook hands its work to in one process: each item to its tenant's worker.
pub struct FleetQueue<P: Polls>(pub Arc<Fleet<P>>);

#[async_trait]
impl<P: Polls> Queue for FleetQueue<P> {
    async fn enqueue(&self, items: Vec<WorkItem>) -> Result<(), QueueError> {
        if let Some(app) = self.0.single() {
            return app.queue().enqueue(items).await;
        }
        let by_tenant = crate::observation::by_tenant(&items);
        let apps = self
            .0
            .apps(by_tenant.keys().copied().collect())
            .await
            .unwrap_or_default();
        for (tenant, indexes) in by_tenant {
            match apps.get(&tenant) {
                Some(app) => {
                    app.queue()
                        .enqueue(indexes.iter().map(|&i| items[i].clone()).collect())
                        .await?
                }
                None => {
                    tracing::warn!(%tenant, "webhook work for a tenant that is not served here dropped")
                }
            }
        }
        Ok(())
    }
}
