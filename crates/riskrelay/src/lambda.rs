//! The Lambda functions' handlers and cold start.
//!
//! Built once per cold start through the function's role ([`crate::app::PollerParts`], [`crate::app::WorkerParts`]): configuration (environment plus
//! the Secrets Manager secret), the Graph client, the DynamoDB store and the SQS queue. When the
//! secret's TTL has passed, the next invocation reads it again and rebuilds the parts that depend
//! on it if it changed.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde::Deserialize;
use tokio::sync::RwLock;
use tokio::time::Instant;

use anyhow::Context as _;

use crate::app::{Adapters, Parts, PollerParts, Polls, Settings, WorkerParts};
use crate::checks;
use crate::config::{ConfigError, Env, EnvSecrets, SecretSource};
use crate::fleet::{Done, Fleet, Job};
use crate::observation::{JobKind, TenantJob};
use crate::queue::sqs::{self, SqsQueue};
use crate::secrets::SecretCache;
use crate::source::webhook::{RegisteredTenants, Tenants, Webhook, WebhookConfig};
use crate::store::dynamo::DynamoStore;
use crate::tenancy::Mode;

fn queue_url(env: &Env) -> Result<String, ConfigError> {
    env.required("RISKRELAY_QUEUE_URL", "the SQS queue URL", |v| {
        Ok::<_, String>(v.to_string())
    })
}

fn sqs_queue(env: &Env, aws: &aws_config::SdkConfig) -> Result<SqsQueue, ConfigError> {
    Ok(SqsQueue::new(
        aws_sdk_sqs::Client::new(aws),
        queue_url(env)?,
    ))
}

fn dynamo_store(env: &Env, aws: &aws_config::SdkConfig) -> Result<DynamoStore, ConfigError> {
    let table = env.required("RISKRELAY_TABLE_NAME", "the DynamoDB table name", |v| {
        Ok::<_, String>(v.to_string())
    })?;
    Ok(DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), table))
}

/// A deployed function's parts: the DynamoDB store and SQS queue around each tenant's parts of role `P`.
fn build_fleet<P: Parts>(
    env: &Env,
    secrets: &dyn SecretSource,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<Fleet<P>> {
    let settings = Settings::load(env, secrets)?;
    settings.require_client_states(secrets)?;
    let store = Arc::new(dynamo_store(env, aws)?);
    let adapters = Adapters::new(store).with_queue(Arc::new(sqs_queue(env, aws)?));
    Fleet::build(
        &settings,
        adapters,
        Mode::load(env)?,
        crate::fleet::concurrency(env)?,
    )
}

/// How long before the invocation's deadline a poll cycle stops reading: time to hand on the page
/// in flight (SQS) and answer, with room to spare.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(20);

/// The moment to stop, from a deadline in milliseconds since the epoch.
fn stop_by(deadline_ms: u64) -> tokio::time::Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    tokio::time::Instant::now() + left.saturating_sub(DEADLINE_MARGIN)
}

/// The poller function: the poll cycle, the posture checks and subscription upkeep. In the MSP
/// mode a scheduled job fans out: one message per registered tenant to the tenant-jobs queue
/// (`RISKRELAY_TENANT_JOBS_QUEUE_URL`, FIFO), whose messages come back to this function as SQS
/// events, each tenant's job its own invocation, as many at once as the event source allows.
pub struct PollerFunction {
    fleet: Fleet<PollerParts>,
    jobs: Option<SqsQueue>,
}

impl PollerFunction {
    pub fn build(
        env: &Env,
        secrets: &dyn SecretSource,
        aws: &aws_config::SdkConfig,
    ) -> anyhow::Result<Self> {
        let fleet = build_fleet(env, secrets, aws)?;
        let jobs = match fleet.mode() {
            Mode::Config => None,
            Mode::Registry => Some(SqsQueue::new(
                aws_sdk_sqs::Client::new(aws),
                env.required(
                    "RISKRELAY_TENANT_JOBS_QUEUE_URL",
                    "the URL of the FIFO queue of per-tenant jobs (RISKRELAY_TENANTS=registry)",
                    |v| Ok::<_, String>(v.to_string()),
                )?,
            )),
        };
        Ok(Self { fleet, jobs })
    }

    /// Runs one invocation's work: a scheduled job (`{"job": "poll" | "posture" |
    /// "subscriptions"}`, default `poll`, so a plain scheduled event polls; with `"tenant"` in
    /// the MSP mode, that tenant's job only), or an SQS batch of per-tenant jobs.
    /// `deadline_ms` is the invocation's deadline (milliseconds since the epoch, as the runtime
    /// gives it): a poll cycle stops [`DEADLINE_MARGIN`] before it (see
    /// [`crate::source::poll::Poller::poll_until`]).
    pub async fn scheduled(
        &self,
        event: &serde_json::Value,
        deadline_ms: Option<u64>,
    ) -> anyhow::Result<serde_json::Value> {
        let out = self.invocation(event, deadline_ms).await;
        flush_metrics("poller");
        out
    }

    async fn invocation(
        &self,
        event: &serde_json::Value,
        deadline_ms: Option<u64>,
    ) -> anyhow::Result<serde_json::Value> {
        #[derive(Deserialize, Default)]
        struct Input {
            #[serde(default)]
            job: Option<String>,
            #[serde(default)]
            tenant: Option<crate::ids::TenantId>,
        }
        if let Ok(batch) = serde_json::from_value::<SqsEvent>(event.clone())
            && !batch.records.is_empty()
        {
            return self.tenant_jobs(batch, deadline_ms).await;
        }
        let input: Input = serde_json::from_value(event.clone()).unwrap_or_default();
        let kind: JobKind = input
            .job
            .as_deref()
            .unwrap_or("poll")
            .parse()
            .map_err(anyhow::Error::msg)?;
        let job = job_of(kind, deadline_ms);
        match (self.fleet.single(), input.tenant) {
            (Some(app), _) => {
                let out = single_job(app, job).await;
                if let Job::Poll(_) = job {
                    let error = out.as_ref().err().map(crate::fleet::chain_text);
                    self.fleet.watch_poll(app, None, error.as_deref()).await;
                }
                out
            }
            (None, Some(tenant)) => {
                let run = self.fleet.run_for(tenant, job).await?;
                let run = run.with_context(|| format!("{tenant} is not a registered tenant"))?;
                Ok(run_json(kind, &run))
            }
            (None, None) => self.fan_out(kind).await,
        }
    }

    /// One message per registered tenant on the tenant-jobs queue.
    async fn fan_out(&self, kind: JobKind) -> anyhow::Result<serde_json::Value> {
        let queue = self.jobs.as_ref().context("no tenant-jobs queue")?;
        let registry = self.fleet.registry().await?;
        let jobs: Vec<TenantJob> = registry
            .tenants
            .keys()
            .map(|&tenant| TenantJob { job: kind, tenant })
            .collect();
        // One tick per minute: a schedule that fires twice within it queues each job once.
        let tick = (self.fleet.clock().now().unix_timestamp() / 60).to_string();
        queue.enqueue_jobs(&jobs, &tick).await?;
        tracing::info!(
            job = kind.name(),
            tenants = jobs.len(),
            "tenant jobs queued"
        );
        Ok(serde_json::json!({ "job": kind.name(), "queued": jobs.len() }))
    }

    /// Per-tenant jobs from the queue. A job that fails is not retried by SQS: its failure is in
    /// the tenant's status, and the schedule's next tick is its retry (a FIFO group held back by
    /// retries would delay the tenant's next job instead).
    async fn tenant_jobs(
        &self,
        batch: SqsEvent,
        deadline_ms: Option<u64>,
    ) -> anyhow::Result<serde_json::Value> {
        let mut out = Vec::new();
        for record in batch.records {
            let Some(job) = record
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<TenantJob>(b).ok())
            else {
                tracing::error!(message_id = ?record.message_id, "unreadable tenant job dropped");
                continue;
            };
            match self
                .fleet
                .run_for(job.tenant, job_of(job.job, deadline_ms))
                .await?
            {
                Some(run) => out.push(run_json(job.job, &run)),
                None => {
                    tracing::warn!(tenant = %job.tenant, "job for a tenant no longer registered dropped")
                }
            }
        }
        Ok(serde_json::json!({ "jobs": out }))
    }
}

fn job_of(kind: JobKind, deadline_ms: Option<u64>) -> Job {
    match kind {
        JobKind::Poll => Job::Poll(deadline_ms.map(stop_by)),
        JobKind::Posture => Job::Posture,
        JobKind::Subscriptions => Job::Subscriptions,
    }
}

fn run_json(kind: JobKind, run: &crate::fleet::TenantRun) -> serde_json::Value {
    let result = match &run.result {
        Ok(Done::Skipped) => serde_json::json!("skipped: no access"),
        Ok(_) => serde_json::json!("done"),
        Err(e) => serde_json::json!(format!("failed: {e}")),
    };
    serde_json::json!({ "job": kind.name(), "tenant": run.tenant, "name": run.name, "result": result })
}

/// The single-tenant deployment's job, answered as before the MSP mode.
async fn single_job(app: &PollerParts, job: Job) -> anyhow::Result<serde_json::Value> {
    match job {
        Job::Poll(deadline) => {
            let r = app.poller.poll_until(deadline).await?;
            Ok(serde_json::json!({
                "job": "poll", "cycleId": r.cycle_id, "baseline": r.baseline, "users": r.users,
                "detections": r.detections, "enqueued": r.enqueued,
                "requested": r.requested.map(|q| q.reason),
            }))
        }
        Job::Posture => {
            let run = app.posture_job().await?;
            Ok(serde_json::json!({
                "job": "posture", "exitCode": run.report.exit_code(), "alerts": run.messages.len(), "report": checks::report::json(&run.report),
            }))
        }
        Job::Subscriptions => {
            let r = app.upkeep()?.ensure(app.clock.now()).await?;
            Ok(
                serde_json::json!({ "job": "subscriptions", "created": r.created, "renewed": r.renewed, "recreated": r.recreated, "deleted": r.deleted }),
            )
        }
    }
}

/// The worker function: SQS batches of work items, each to its tenant's worker.
pub struct WorkerFunction(Fleet<WorkerParts>);

impl WorkerFunction {
    pub fn build(
        env: &Env,
        secrets: &dyn SecretSource,
        aws: &aws_config::SdkConfig,
    ) -> anyhow::Result<Self> {
        build_fleet(env, secrets, aws).map(|f| Self(f.delivering()))
    }

    /// Processes an SQS batch, reporting exactly the messages that failed so that SQS retries
    /// only those (and, after maxReceiveCount, moves them to the dead-letter queue).
    pub async fn sqs(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let mut items = Vec::new();
        let mut ids = Vec::new();
        for record in event.records {
            match sqs::decode(&record) {
                Ok((id, item)) => {
                    items.push(item);
                    ids.push(id);
                }
                Err(id) => {
                    // A message that cannot be read will never be: let it reach the DLQ.
                    tracing::error!(message_id = %id, "unreadable queue message");
                    response.add_failure(id);
                }
            }
        }
        let results = self.0.process(&items).await;
        for (id, result) in ids.into_iter().zip(results) {
            if let Err(e) = result {
                tracing::warn!(message_id = %id, error = %e, "message failed; SQS will retry it");
                response.add_failure(id);
            }
        }
        flush_metrics("worker");
        response
    }
}

/// The webhook function: the `clientState`, the queue and a read of the subscription ids upkeep
/// created, so it starts fast and holds no Graph credential.
pub fn webhook(
    env: &Env,
    secrets: &dyn SecretSource,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<Webhook> {
    let store: Arc<dyn crate::store::Store> = Arc::new(dynamo_store(env, aws)?);
    let queue = Arc::new(sqs_queue(env, aws)?);
    Ok(match Mode::load(env)? {
        Mode::Config => Webhook::new(&WebhookConfig::load(env, secrets)?, queue).knowing(store),
        Mode::Registry => Webhook::for_tenants(
            Tenants::Registry(Arc::new(RegisteredTenants::new(
                crate::client_state::ClientStates::load(secrets)?,
                store,
            ))),
            queue,
        ),
    })
}

/// The actions function: the action pages behind an alert's buttons. It reads the secret (the
/// app credential to redeem sign-ins, the link key, the destinations for the follow-up message)
/// and writes the table; it holds no queue and uses no Graph application permission (every
/// Graph call carries the analyst's token).
pub fn actions(
    env: &Env,
    secrets: &dyn SecretSource,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<crate::server::Routes> {
    let settings = Settings::load(env, secrets)?;
    let store: Arc<dyn crate::store::Store> = Arc::new(dynamo_store(env, aws)?);
    // In the MSP mode, each registered tenant's pages are built when a link of it is first opened.
    let fleet = Fleet::<crate::app::ActionsParts>::build(
        &settings,
        Adapters::new(store),
        Mode::load(env)?,
        1,
    )?
    .with_destinations();
    let pages = Arc::new(fleet)
        .action_pages()
        .context("the actions function needs RISKRELAY_ACTIONS (which actions alerts offer)")?;
    let mut routes = crate::server::Routes::default().fallback(pages);
    // The Slack app's Request URL, on the same function URL as the pages its buttons open.
    if let Some(slack) =
        crate::actions::slack::SlackInteractions::load(secrets, crate::clock::system())?
    {
        routes = routes.prefix(crate::actions::slack::PATH, Arc::new(slack));
    }
    Ok(routes)
}

/// A Function URL function's whole life: cold start through `build`, then each request to the
/// current parts (rebuilt when the secret changes).
pub async fn serve_function_url<T: crate::server::HttpApp>(
    name: &str,
    build: Builder<T>,
) -> Result<(), lambda_http::Error> {
    use crate::source::webhook::{from_lambda, to_lambda};
    let app = start(name, build).await?;
    lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
        let app = app.clone();
        async move {
            let res = app.current().await.handle(from_lambda(req)).await;
            flush_metrics(name);
            Ok::<_, lambda_http::Error>(to_lambda(res))
        }
    }))
    .await
}

/// Writes the figures recorded since the last flush as CloudWatch Embedded Metric Format lines on
/// stdout, the function's log, where CloudWatch Logs extracts them: no API call and no latency
/// added to the invocation.
pub fn flush_metrics(function: &str) {
    use std::io::Write as _;
    let lines = crate::metrics::global().take_emf(function, time::OffsetDateTime::now_utc());
    if !EMF.get().copied().unwrap_or(true) {
        return;
    }
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
}

/// Whether the functions write their figures for CloudWatch (`RISKRELAY_CLOUDWATCH_METRICS`).
static EMF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn cloudwatch_metrics(env: &Env) -> Result<bool, ConfigError> {
    env.or(
        "RISKRELAY_CLOUDWATCH_METRICS",
        "on or off",
        true,
        |v| match v {
            "on" => Ok(true),
            "off" => Ok(false),
            _ => Err("neither on nor off"),
        },
    )
}

/// The cold-start preamble every function shares: logging, then its parts built (with the secret
/// re-read after its TTL). A failure fails the function's init with `name` in the message.
pub async fn start<T>(name: &str, build: Builder<T>) -> Result<Arc<Reloading<T>>, String> {
    crate::telemetry::init(crate::telemetry::LogFormat::from_env());
    let emf = cloudwatch_metrics(&Env::from_process())
        .map_err(|e| format!("riskrelay {name} could not start: {e}"))?;
    let _ = EMF.set(emf);
    Reloading::cold_start(build)
        .await
        .map(Arc::new)
        .map_err(|e| format!("riskrelay {name} could not start: {e:#}"))
}

/// Builds a function's parts from the environment, its secrets and the AWS configuration.
pub type Builder<T> = fn(&Env, &dyn SecretSource, &aws_config::SdkConfig) -> anyhow::Result<T>;

/// Holds a function's parts and rebuilds them when the secret changed after its TTL.
pub struct Reloading<T> {
    env: Env,
    aws: aws_config::SdkConfig,
    cache: Option<SecretCache>,
    build: Builder<T>,
    app: RwLock<(Arc<T>, String, Instant)>,
    ttl: Duration,
}

impl<T> Reloading<T> {
    /// Cold start: fails (and so fails the function's init) when the secret or configuration is
    /// missing or invalid, rather than running half-configured.
    pub async fn cold_start(build: Builder<T>) -> anyhow::Result<Self> {
        let env = Env::from_process();
        let aws = crate::aws::config().await;
        let ttl = crate::secrets::DEFAULT_TTL;
        let (app, fingerprint, cache) = match env.get("RISKRELAY_SECRET_ID") {
            Some(id) => {
                let cache = SecretCache::new(aws_sdk_secretsmanager::Client::new(&aws), id, ttl);
                let secrets = cache.get().await?;
                let app = build(&env, &secrets, &aws)?;
                (app, secrets.fingerprint().to_string(), Some(cache))
            }
            None => (build(&env, &EnvSecrets(&env), &aws)?, String::new(), None),
        };
        Ok(Self {
            env,
            aws,
            cache,
            build,
            app: RwLock::new((Arc::new(app), fingerprint, Instant::now())),
            ttl,
        })
    }

    /// The current parts, rebuilt first if the secret changed. A failed re-read keeps the old
    /// parts: a broken rotation must not take a working function down.
    pub async fn current(&self) -> Arc<T> {
        {
            let guard = self.app.read().await;
            if guard.2.elapsed() < self.ttl || self.cache.is_none() {
                return guard.0.clone();
            }
        }
        let mut guard = self.app.write().await;
        if let Some(cache) = &self.cache {
            match cache.get().await {
                Ok(secrets) if secrets.fingerprint() != guard.1 => {
                    match (self.build)(&self.env, &secrets, &self.aws) {
                        Ok(app) => {
                            tracing::info!("the secret changed; configuration rebuilt");
                            *guard = (
                                Arc::new(app),
                                secrets.fingerprint().to_string(),
                                Instant::now(),
                            );
                        }
                        Err(e) => {
                            tracing::error!(error = %format!("{e:#}"), "the changed secret is invalid; keeping the previous configuration");
                            guard.2 = Instant::now();
                        }
                    }
                }
                Ok(_) => guard.2 = Instant::now(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not re-read the secret; keeping the previous configuration");
                    guard.2 = Instant::now();
                }
            }
        }
        guard.0.clone()
    }
}
