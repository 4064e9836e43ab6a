//! The test kit riskrelay's suites share (the application's and the command's): the test app,
//! recording fakes, fake chat servers, samples and the moto helpers. Behind the `testkit`
//! feature, which only dev-dependencies turn on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::{Arc, Mutex};

use crate::{SimConfig, Simulator};
use async_trait::async_trait;
use riskrelay::app::{Adapters, Parts, Settings, WorkerParts};
use riskrelay::config::{Env, EnvSecrets};
use riskrelay::graph::GraphClient;
use riskrelay::observation::WorkItem;
use riskrelay::posture::{Known, PasswordSync, PostureSnapshot};
use riskrelay::queue::{Queue, QueueError};
use riskrelay::risk::RiskLevel;
use riskrelay::sink::config::{SinkConfig, SinkKind};
use riskrelay::source::webhook::WebhookConfig;
use riskrelay::store::memory::MemoryStore;
use riskrelay::store::{self, Store};
use riskrelay::worker::Worker;
use time::OffsetDateTime;
use wiremock::{MockServer, ResponseTemplate};

pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT_STATE: &str = "riskrelay-test-client-state";
pub const CLIENT_STATE_PREVIOUS: &str = "riskrelay-old-client-state";
pub const SUBSCRIPTION: &str = "7f1a3c2e-5b4d-4e6f-8a9b-0c1d2e3f4a5b";
pub const USER_1: &str = "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b";
pub const USER_2: &str = "0b9e8d7c-6f5a-4b3c-9d2e-1f0a9b8c7d6e";

pub fn webhook_env() -> Env {
    Env::default()
        .with("RISKRELAY_TENANT_ID", TENANT)
        .with("RISKRELAY_CLIENT_STATE", CLIENT_STATE)
        .with("RISKRELAY_CLIENT_STATE_PREVIOUS", CLIENT_STATE_PREVIOUS)
}

pub fn webhook_config(env: &Env) -> WebhookConfig {
    WebhookConfig::load(env, &EnvSecrets(env)).unwrap()
}

/// Keeps what was enqueued.
#[derive(Default, Clone)]
pub struct RecordingQueue(pub Arc<Mutex<Vec<WorkItem>>>);

impl RecordingQueue {
    pub fn items(&self) -> Vec<WorkItem> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait]
impl Queue for RecordingQueue {
    async fn enqueue(&self, items: Vec<WorkItem>) -> Result<(), QueueError> {
        self.0.lock().unwrap().extend(items);
        Ok(())
    }
}

/// Refuses everything, like SQS during an outage.
pub struct FailingQueue;

#[async_trait]
impl Queue for FailingQueue {
    async fn enqueue(&self, items: Vec<WorkItem>) -> Result<(), QueueError> {
        Err(QueueError::Rejected {
            failed: items.len(),
            total: items.len(),
            reason: "ServiceUnavailable: internal detail that must not reach Graph".into(),
        })
    }
}

/// A message a [`RecordingSink`] was given, kept past the post.
#[derive(Debug, Clone)]
pub struct Posted {
    pub routing: riskrelay::alert::Routing,
    pub view: riskrelay::render::View,
}

/// A destination that keeps every message it is given.
#[derive(Default)]
pub struct RecordingSink(Mutex<Vec<Posted>>);

impl RecordingSink {
    pub fn messages(&self) -> Vec<Posted> {
        self.0.lock().unwrap().clone()
    }

    /// What a person would read, one text per user alert.
    pub fn user_texts(&self) -> Vec<String> {
        self.messages()
            .iter()
            .filter(|m| {
                m.routing
                    .incident
                    .as_deref()
                    .is_some_and(|i| i.starts_with("user/"))
            })
            .map(|m| riskrelay::render::console::text(&m.view))
            .collect()
    }
}

#[async_trait]
impl riskrelay::sink::Sink for RecordingSink {
    fn name(&self) -> &str {
        "recording"
    }

    fn min_level(&self) -> &RiskLevel {
        &RiskLevel::Low
    }

    async fn post(
        &self,
        message: &riskrelay::sink::Outgoing<'_>,
    ) -> Result<(), riskrelay::sink::SinkError> {
        self.0.lock().unwrap().push(Posted {
            routing: message.routing.clone(),
            view: message.view.clone(),
        });
        Ok(())
    }
}

/// Captures tracing output of the current thread while the guard lives.
pub struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::dispatcher::DefaultGuard,
}

impl LogCapture {
    pub fn start() -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || CaptureWriter(writer.clone()))
            .finish();
        Self {
            buf,
            _guard: tracing::dispatcher::set_default(&subscriber.into()),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The moto server started by the test command (`scripts/test.sh`).
pub fn moto_endpoint() -> String {
    std::env::var("RISKRELAY_TEST_MOTO_URL").expect(
        "RISKRELAY_TEST_MOTO_URL is not set: run the tests with scripts/test.sh, which starts moto",
    )
}

pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

/// A name no other test (or earlier run against the same moto) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Writes a chat payload the tests produced where the test command's validators look for it
/// (`RISKRELAY_PAYLOAD_DIR/{slack,teams}/{name}.json`). Without the variable, nothing is written.
pub fn record_payload(kind: &str, name: &str, payload: &serde_json::Value) {
    let Ok(dir) = std::env::var("RISKRELAY_PAYLOAD_DIR") else {
        return;
    };
    let dir = std::path::Path::new(&dir).join(kind);
    std::fs::create_dir_all(&dir).unwrap();
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    std::fs::write(
        dir.join(format!("{safe}.json")),
        serde_json::to_vec_pretty(payload).unwrap(),
    )
    .unwrap();
}

/// Records every JSON body a fake chat server received.
pub async fn record_received(kind: &str, prefix: &str, server: &wiremock::MockServer) {
    for (i, r) in server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) {
            record_payload(kind, &format!("{prefix}-{i}"), &v);
        }
    }
}

pub mod samples;

/// A fake chat endpoint: POSTs to `path` get `reply`, at most `times` times (always when `None`),
/// and the server checks on drop that it got exactly `expect` of them (when given).
pub async fn answer(
    server: &wiremock::MockServer,
    path: &str,
    reply: wiremock::ResponseTemplate,
    times: Option<u64>,
    expect: Option<u64>,
) {
    let mut mock = wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(path))
        .respond_with(reply);
    if let Some(n) = times {
        mock = mock.up_to_n_times(n);
    }
    if let Some(n) = expect {
        mock = mock.expect(n);
    }
    mock.mount(server).await;
}

/// Fake chat webhook URLs. Their secret-looking parts let tests check that no URL leaks.
pub const SLACK_PATH: &str = "/services/T000/B000/sl4ckS3cretPart";
pub const TEAMS_PATH: &str = "/workflows/abc/triggers/manual/paths/invoke";

pub fn slack_sink(server: &MockServer, min: RiskLevel) -> SinkConfig {
    SinkConfig {
        name: "slack".into(),
        kind: SinkKind::Slack,
        url: secrecy::SecretString::from(format!("{}{SLACK_PATH}", server.uri())),
        min_level: min,
        key: None,
    }
}

pub fn teams_sink(server: &MockServer, min: RiskLevel) -> SinkConfig {
    SinkConfig {
        name: "teams".into(),
        kind: SinkKind::Teams,
        url: secrecy::SecretString::from(format!(
            "{}{TEAMS_PATH}?api-version=1&sig=t3amsS1gnature",
            server.uri()
        )),
        min_level: min,
        key: None,
    }
}

/// `user` added to `sim` at high risk from one offline leaked-credentials detection.
pub fn high_risk(sim: &Simulator, user: crate::SimUser) -> riskrelay::ids::UserId {
    let id = sim.add_user(user);
    sim.detect(id, crate::DetectionSpec::leaked_credentials());
    id
}

/// The fake PagerDuty Events API's path, and a routing key whose shape PagerDuty would accept.
pub const PAGERDUTY_PATH: &str = "/v2/enqueue";
pub const ROUTING_KEY: &str = "R0ut1ngK3yR0ut1ngK3yR0ut1ngK3y12";

pub fn pagerduty_sink(server: &MockServer, min: RiskLevel) -> SinkConfig {
    SinkConfig {
        name: "oncall".into(),
        kind: SinkKind::PagerDuty,
        url: secrecy::SecretString::from(format!("{}{PAGERDUTY_PATH}", server.uri())),
        min_level: min,
        key: Some(secrecy::SecretString::from(ROUTING_KEY)),
    }
}

/// The fake Events API accepts every event as PagerDuty does: 202 with the dedup key.
pub async fn ok_pagerduty(server: &MockServer) {
    answer(
        server,
        PAGERDUTY_PATH,
        ResponseTemplate::new(202).set_body_json(serde_json::json!({
            "status": "success", "message": "Event processed", "dedup_key": "riskrelay"
        })),
        None,
        None,
    )
    .await;
}

/// The fake Slack endpoint accepts every post, as Slack does: 200 "ok".
pub async fn ok_slack(server: &MockServer) {
    answer(
        server,
        SLACK_PATH,
        ResponseTemplate::new(200).set_body_string("ok"),
        None,
        None,
    )
    .await;
}

/// The fake Teams Workflows endpoint accepts every post, as a trigger does: 202, no body.
pub async fn ok_teams(server: &MockServer) {
    answer(server, TEAMS_PATH, ResponseTemplate::new(202), None, None).await;
}

/// The application as every entry point builds it (one role's [`riskrelay::app::Parts`]), against the simulated
/// tenant, an in-memory store and fake Slack and Teams servers. Tests change `settings` before
/// building, and the simulator, store and servers as they go.
pub struct TestApp {
    pub sim: Simulator,
    pub store: Arc<MemoryStore>,
    pub slack: MockServer,
    pub teams: MockServer,
    pub settings: Settings,
}

impl TestApp {
    pub async fn start() -> Self {
        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        let slack = MockServer::start().await;
        let teams = MockServer::start().await;
        let mut graph = sim.graph_config();
        graph.retry = fast_retry(graph.retry.max_attempts);
        let mut settings = Settings::with_graph(graph);
        settings.alerts.sinks = vec![
            slack_sink(&slack, RiskLevel::Low),
            teams_sink(&teams, RiskLevel::Low),
        ];
        Self {
            sim,
            store: Arc::new(MemoryStore::default()),
            slack,
            teams,
            settings,
        }
    }

    /// One role's parts (see [`riskrelay::app::Parts`]) over the test's store, handing work to
    /// `queue` (the in-process queue when `None`).
    pub fn build<P: Parts>(&self, queue: Option<Arc<dyn Queue>>) -> P {
        let store: Arc<dyn Store> = self.store.clone();
        let mut adapters = Adapters::new(store);
        adapters.queue = queue;
        adapters.inline_retry.base_delay = std::time::Duration::from_millis(20);
        P::build(&self.settings, adapters).unwrap()
    }

    pub fn worker(&self) -> Arc<Worker> {
        self.build::<WorkerParts>(None).worker
    }

    pub fn graph(&self) -> GraphClient {
        GraphClient::new(&self.settings.graph).unwrap()
    }

    /// `user` added at high risk from one offline leaked-credentials detection.
    pub fn high_risk(&self, user: crate::SimUser) -> riskrelay::ids::UserId {
        high_risk(&self.sim, user)
    }

    /// A synced user (`uid`-numbered) at high risk from one offline leaked-credentials detection.
    pub fn high_risk_user(&self, n: u128, name: &str, upn: &str) -> riskrelay::ids::UserId {
        self.high_risk(crate::SimUser::new(uid(n), name, upn).synced())
    }

    /// Both chat servers accept every post.
    pub async fn ok_sinks(&self) {
        ok_slack(&self.slack).await;
        ok_teams(&self.teams).await;
    }

    /// Posts received by (Slack, Teams).
    pub async fn posts(&self) -> (usize, usize) {
        (
            self.slack.received_requests().await.unwrap().len(),
            self.teams.received_requests().await.unwrap().len(),
        )
    }

    /// A posture snapshot taken at `at`: the setting on, password sync fresh, no CA policy.
    pub async fn save_posture(&self, at: OffsetDateTime) {
        let snapshot = PostureSnapshot {
            checked_at: at,
            setting: Known::Known { value: true },
            password_sync: Known::Known {
                value: PasswordSync::Fresh { last: at },
            },
            user_risk_policies: Known::Known { value: vec![] },
        };
        store::save(
            self.store.as_ref(),
            self.sim.tenant_id(),
            store::keys::POSTURE,
            &snapshot,
            None,
        )
        .await
        .unwrap();
    }
}

pub const WEBHOOK_PATH: &str = "/hooks/riskrelay";
/// Standard Webhooks secrets (the base64 of 24 random bytes each): the current one and the one
/// being rotated out.
pub const SIGNING_SECRET: &str = "whsec_Kb7Vq2m9XwR4tN8pL1sD6fH3jZ0cY5eA";
pub const OLD_SIGNING_SECRET: &str = "whsec_U2lnbmluZ0tleVJvdGF0ZWRPdXQxMjM0";

pub fn webhook_sink(server: &MockServer, min: RiskLevel, secrets: &str) -> SinkConfig {
    SinkConfig {
        name: "siem".into(),
        kind: SinkKind::Webhook,
        url: secrecy::SecretString::from(format!("{}{WEBHOOK_PATH}", server.uri())),
        min_level: min,
        key: Some(secrecy::SecretString::from(secrets)),
    }
}

/// Every body the server received, parsed as JSON, in order.
pub async fn received_json(server: &MockServer) -> Vec<serde_json::Value> {
    received_text(server)
        .await
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect()
}

/// The user as a poll cycle hands them on: with the risky-user record and the detections the
/// simulated tenant holds, so the worker needs no Graph read of its own.
pub fn polled(
    sim: &Simulator,
    id: riskrelay::ids::UserId,
    cycle_id: &str,
) -> riskrelay::observation::WorkItem {
    use riskrelay::observation::{Fetched, Observation, Origin, Subject, WorkItem};
    WorkItem::Observation(Observation {
        tenant_id: sim.tenant_id(),
        subject: Subject::RiskyUser { user_id: id },
        origin: Origin::Poll {
            cycle_id: cycle_id.into(),
        },
        observed_at: OffsetDateTime::now_utc(),
        fetched: Some(Fetched {
            risky_user: sim.risky_user(id).unwrap(),
            detections: sim.detections_of(id),
        }),
    })
}

/// Every body the server received, as text, in order.
pub async fn received_text(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

pub fn fast_retry(max_attempts: u32) -> riskrelay::http::RetryPolicy {
    riskrelay::http::RetryPolicy {
        max_attempts,
        base_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(200),
        budget: std::time::Duration::from_secs(20),
        max_retry_after: std::time::Duration::from_secs(20),
    }
}

/// A webhook hint about `subject`.
pub fn hint(rig: &TestApp, subject: riskrelay::observation::Subject) -> WorkItem {
    WorkItem::Observation(riskrelay::observation::Observation {
        tenant_id: rig.sim.tenant_id(),
        subject,
        origin: riskrelay::observation::Origin::Webhook {
            subscription_id: riskrelay::ids::SubscriptionId::parse(SUBSCRIPTION).unwrap(),
            change_type: riskrelay::notification::ChangeType::Updated,
        },
        observed_at: OffsetDateTime::now_utc(),
        fetched: None,
    })
}

pub fn uid(n: u128) -> riskrelay::ids::UserId {
    riskrelay::ids::UserId::from_uuid(uuid::Uuid::from_u128(
        0xb000_0000_0000_4000_8000_0000_0000_0000 + n,
    ))
}

pub async fn dynamo_store() -> riskrelay::store::dynamo::DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&aws_config().await);
    let table = unique("riskrelay");
    riskrelay::store::dynamo::DynamoStore::create_table(&client, &table)
        .await
        .unwrap();
    riskrelay::store::dynamo::DynamoStore::new(client, table)
}

/// Deletes a test's table once it is done with it: moto copies every table for each transaction,
/// so a large table left behind slows every later test's transactions.
pub async fn drop_table(table: &str) {
    let client = aws_sdk_dynamodb::Client::new(&aws_config().await);
    let _ = client.delete_table().table_name(table).send().await;
}

/// The test tools' Python (`.tools/venv`), where the vendors' own libraries are installed.
pub fn tools_python() -> std::path::PathBuf {
    let python = repo_root().join(".tools/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-tools.sh (scripts/test.sh does)",
        python.display()
    );
    python
}

/// The repository's root (the events, the schemas, the tools and `.tools/` live there).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
