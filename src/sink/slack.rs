//! Slack incoming webhooks.
//!
//! Slack allows about one message per second per webhook, answers 429 with `Retry-After` beyond
//! that, and disables webhooks that keep flooding. So posts are paced, a 429 is retried after the
//! wait it names, and a 5xx is *not* retried here (Slack may have posted already; the queue's
//! later retry is the safer duplicate risk). Errors such as `invalid_blocks` or
//! `channel_not_found` are permanent.

use std::time::Duration;

use async_trait::async_trait;

use super::{Endpoint, MAX_RETRY_AFTER, Sink, SinkError, excerpt};
use crate::config::SinkConfig;
use crate::limiter::Limiter;
use crate::render::View;
use crate::risk::RiskLevel;

const ATTEMPTS: u32 = 3;
/// Slack's documented pace for incoming webhooks.
const PACE: Duration = Duration::from_secs(1);

pub struct SlackSink {
    endpoint: Endpoint,
    pace: Limiter,
}

impl SlackSink {
    pub fn new(config: &SinkConfig, http: reqwest::Client) -> Self {
        Self {
            endpoint: Endpoint::new(config, http),
            pace: Limiter::with_interval(PACE),
        }
    }
}

#[async_trait]
impl Sink for SlackSink {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    fn min_level(&self) -> &RiskLevel {
        &self.endpoint.min_level
    }

    async fn ready(&self) {
        self.pace.acquire().await;
    }

    async fn post(&self, view: &View) -> Result<(), SinkError> {
        let payload = crate::render::slack::payload(view);
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                self.pace.acquire().await;
            }
            let res = self
                .endpoint
                .send(&payload)
                .await
                .map_err(|e| self.endpoint.error(true, e))?;
            let status = res.status();
            if status.is_success() {
                return Ok(());
            }
            let wait = crate::graph::retry_after(res.headers());
            let body = excerpt(&res.text().await.unwrap_or_default());
            if status.as_u16() == 429 {
                let wait = wait.unwrap_or(PACE);
                if attempt < ATTEMPTS && wait <= MAX_RETRY_AFTER {
                    tracing::info!(sink = %self.endpoint.name, wait_ms = wait.as_millis() as u64, "Slack rate limit; waiting as told");
                    self.pace.pause(wait).await;
                    continue;
                }
                return Err(self
                    .endpoint
                    .error(true, format!("Slack kept answering 429 ({body})")));
            }
            return Err(self.endpoint.error(
                status.is_server_error(),
                format!("Slack answered {}: {body}", status.as_u16()),
            ));
        }
        Err(self.endpoint.error(true, "Slack kept answering 429".into()))
    }
}
