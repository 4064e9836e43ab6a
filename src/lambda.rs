//! The poller and worker Lambda functions' handlers, and their cold-start wiring.
//!
//! Built once per cold start: configuration (environment plus the Secrets Manager secret), the
//! Graph client, the DynamoDB store and the SQS queue. When the secret's TTL has passed, the next
//! invocation reads it again and rebuilds the parts that depend on it if it changed.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::RwLock;
use tokio::time::Instant;

use crate::app::Parts;
use crate::checks;
use crate::config::{
    AlertsConfig, ClientStates, Env, EnvSecrets, GraphConfig, PostureConfig, SecretSource,
    poll_overlap, tenant_id,
};
use crate::graph::GraphClient;
use crate::observation::WorkItem;
use crate::poll::Poller;
use crate::queue::Queue;
use crate::queue::sqs::SqsQueue;
use crate::secrets::SecretCache;
use crate::store::dynamo::DynamoStore;
use crate::subscriptions::{PollTrigger, SubscriptionsConfig, Upkeep};
use crate::worker::Worker;

/// Everything the poller and worker need.
pub struct LambdaApp {
    pub parts: Parts,
    pub queue: Arc<dyn Queue>,
    pub poller: Arc<Poller>,
    pub worker: Worker,
    pub upkeep: Arc<Upkeep>,
    pub posture: PostureConfig,
}

/// Runs a poll cycle when Graph says notifications were missed.
struct PollNow(Arc<Poller>);

#[async_trait::async_trait]
impl PollTrigger for PollNow {
    async fn poll_now(&self) -> Result<(), String> {
        self.0.poll().await.map(|_| ()).map_err(|e| e.to_string())
    }
}

impl LambdaApp {
    pub fn build(
        env: &Env,
        secrets: &dyn SecretSource,
        aws: &aws_config::SdkConfig,
    ) -> anyhow::Result<Self> {
        let graph_config = GraphConfig::load(env, secrets)?;
        let alerts = AlertsConfig::load(env, secrets)?;
        let client_states = ClientStates::load(secrets)?;
        let posture = PostureConfig::load(env)?;
        let subscriptions = SubscriptionsConfig::load(env)?;
        let overlap = poll_overlap(env)?;
        let table = env.required("RISKRELAY_TABLE_NAME", "the DynamoDB table name", |v| {
            Ok::<_, String>(v.to_string())
        })?;
        let queue_url = env.required("RISKRELAY_QUEUE_URL", "the SQS queue URL", |v| {
            Ok::<_, String>(v.to_string())
        })?;
        let graph = GraphClient::new(&graph_config).context("Graph client")?;
        let http = crate::graph::http_client(Duration::from_secs(15)).context("HTTP client")?;
        let parts = Parts {
            tenant: tenant_id(env)?,
            graph,
            store: Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), table)),
            http,
        };
        let queue: Arc<dyn Queue> =
            Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(aws), queue_url));
        let poller = Arc::new(Poller::new(
            parts.tenant,
            parts.graph.clone(),
            parts.store.clone(),
            queue.clone(),
            overlap,
        ));
        let upkeep = Arc::new(
            parts
                .upkeep(subscriptions, client_states)
                .with_poll_trigger(Arc::new(PollNow(poller.clone()))),
        );
        let worker = parts.worker(parts.delivery(&alerts, Vec::new()), Some(upkeep.clone()));
        Ok(Self {
            parts,
            queue,
            poller,
            worker,
            upkeep,
            posture,
        })
    }

    /// Runs one scheduled job: `{"job": "poll" | "posture" | "subscriptions"}` (default `poll`, so
    /// a plain scheduled event polls).
    pub async fn scheduled(&self, event: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        #[derive(Deserialize, Default)]
        struct Input {
            #[serde(default)]
            job: Option<String>,
        }
        let input: Input = serde_json::from_value(event.clone()).unwrap_or_default();
        match input.job.as_deref().unwrap_or("poll") {
            "poll" => {
                let r = self.poller.poll().await?;
                Ok(serde_json::json!({
                    "job": "poll", "cycleId": r.cycle_id, "baseline": r.baseline, "users": r.users,
                    "detections": r.detections, "enqueued": r.enqueued,
                }))
            }
            "posture" => {
                let run = checks::run_and_hand_over(
                    &self.parts.graph,
                    self.parts.store.as_ref(),
                    self.parts.tenant,
                    &self.posture,
                    self.queue.as_ref(),
                )
                .await?;
                Ok(serde_json::json!({
                    "job": "posture", "exitCode": run.report.exit_code(), "alerts": run.messages.len(), "report": checks::json(&run.report),
                }))
            }
            "subscriptions" => {
                let r = self
                    .upkeep
                    .ensure(OffsetDateTime::now_utc())
                    .await
                    .map_err(anyhow::Error::msg)?;
                Ok(
                    serde_json::json!({ "job": "subscriptions", "created": r.created, "renewed": r.renewed, "recreated": r.recreated, "deleted": r.deleted }),
                )
            }
            other => {
                anyhow::bail!("unknown job \"{other}\": expected poll, posture or subscriptions")
            }
        }
    }

    /// Processes an SQS batch, reporting exactly the messages that failed so that SQS retries
    /// only those (and, after maxReceiveCount, moves them to the dead-letter queue).
    pub async fn sqs(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let mut items = Vec::new();
        let mut ids = Vec::new();
        for record in event.records {
            let id = record.message_id.unwrap_or_default();
            match record.body.as_deref().map(serde_json::from_str::<WorkItem>) {
                Some(Ok(item)) => {
                    items.push(item);
                    ids.push(id);
                }
                _ => {
                    // A message that cannot be read will never be: let it reach the DLQ.
                    tracing::error!(message_id = %id, "unreadable queue message");
                    response.add_failure(id);
                }
            }
        }
        let report = self.worker.process(&items).await;
        for (id, result) in ids.into_iter().zip(report.results) {
            if let Err(e) = result {
                tracing::warn!(message_id = %id, error = %e, "message failed; SQS will retry it");
                response.add_failure(id);
            }
        }
        response
    }
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
