//! Shared test fixtures and fakes.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use riskrelay::config::{Env, EnvSecrets, WebhookConfig};
use riskrelay::observation::WorkItem;
use riskrelay::queue::{Queue, QueueError};

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
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

/// A name no other test (or earlier run against the same moto) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
