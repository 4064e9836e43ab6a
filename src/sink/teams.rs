//! Teams Workflows webhooks. A Workflows trigger answers `202 Accepted` with an empty body
//! (delivery itself is only visible in the flow's run history). 429 and 5xx are retried here
//! within a small budget: the trigger has not started a run when it answers that way.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::{MAX_RETRY_AFTER, Sink, SinkError, excerpt, transport_error};
use crate::config::SinkConfig;
use crate::render::View;
use crate::risk::RiskLevel;

const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

pub struct TeamsSink {
    name: String,
    url: SecretString,
    min_level: RiskLevel,
    http: reqwest::Client,
}

impl TeamsSink {
    pub fn new(config: &SinkConfig, http: reqwest::Client) -> Self {
        Self {
            name: config.name.clone(),
            url: config.url.clone(),
            min_level: config.min_level.clone(),
            http,
        }
    }

    fn error(&self, retryable: bool, detail: String) -> SinkError {
        let sink = self.name.clone();
        if retryable {
            SinkError::Retryable { sink, detail }
        } else {
            SinkError::Permanent { sink, detail }
        }
    }
}

#[async_trait]
impl Sink for TeamsSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn min_level(&self) -> &RiskLevel {
        &self.min_level
    }

    async fn post(&self, view: &View) -> Result<(), SinkError> {
        let payload = crate::render::teams::payload(view);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let res = self
                .http
                .post(self.url.expose_secret())
                .json(&payload)
                .send()
                .await;
            let wait = match res {
                Err(e) => {
                    last = transport_error(e);
                    FIRST_BACKOFF * attempt
                }
                Ok(res) => {
                    let status = res.status();
                    if status.is_success() {
                        return Ok(());
                    }
                    let wait = crate::graph::retry_after(res.headers());
                    let body = excerpt(&res.text().await.unwrap_or_default());
                    last = format!("Teams answered {}: {body}", status.as_u16());
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(self.error(false, last));
                    }
                    wait.unwrap_or(FIRST_BACKOFF * attempt)
                }
            };
            if attempt == ATTEMPTS || wait > MAX_RETRY_AFTER {
                break;
            }
            tracing::info!(sink = %self.name, attempt, wait_ms = wait.as_millis() as u64, error = %last, "Teams post failed; retrying");
            tokio::time::sleep(wait).await;
        }
        Err(self.error(true, last))
    }
}
