//! Teams Workflows webhooks. A Workflows trigger answers `202 Accepted` with an empty body
//! (delivery itself is only visible in the flow's run history). 429 and 5xx are retried here
//! within a small budget: the trigger has not started a run when it answers that way.

use std::time::Duration;

use async_trait::async_trait;

use super::{Endpoint, MAX_RETRY_AFTER, Sink, SinkError, excerpt};
use crate::config::SinkConfig;
use crate::render::View;
use crate::risk::RiskLevel;

const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

pub struct TeamsSink {
    endpoint: Endpoint,
}

impl TeamsSink {
    pub fn new(config: &SinkConfig, http: reqwest::Client) -> Self {
        Self {
            endpoint: Endpoint::new(config, http),
        }
    }
}

#[async_trait]
impl Sink for TeamsSink {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    fn min_level(&self) -> &RiskLevel {
        &self.endpoint.min_level
    }

    async fn post(&self, view: &View) -> Result<(), SinkError> {
        let payload = crate::render::teams::payload(view);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let res = self.endpoint.send(&payload).await;
            let wait = match res {
                Err(e) => {
                    last = e;
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
                        return Err(self.endpoint.error(false, last));
                    }
                    wait.unwrap_or(FIRST_BACKOFF * attempt)
                }
            };
            if attempt == ATTEMPTS || wait > MAX_RETRY_AFTER {
                break;
            }
            tracing::info!(sink = %self.endpoint.name, attempt, wait_ms = wait.as_millis() as u64, error = %last, "Teams post failed; retrying");
            tokio::time::sleep(wait).await;
        }
        Err(self.endpoint.error(true, last))
    }
}
