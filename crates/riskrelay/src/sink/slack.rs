//! Slack incoming webhooks.
//!
//! Slack allows about one message per second per webhook, answers 429 with `Retry-After` beyond
//! that, and disables webhooks that keep flooding. So posts are paced, a 429 is retried after the
//! wait it names, and a 5xx is *not* retried here (Slack may have posted already; the queue's
//! later retry is the safer duplicate risk). Errors such as `invalid_blocks` or
//! `channel_not_found` are permanent.

use std::time::Duration;

use async_trait::async_trait;

use super::config::SinkConfig;
use super::{Answer, Endpoint, FailureClass, MAX_RETRY_AFTER, Outgoing, Sink, SinkError};
use crate::http::RetryPolicy;
use crate::limiter::Limiter;
use crate::risk::RiskLevel;

/// Slack's documented pace for incoming webhooks.
const PACE: Duration = Duration::from_secs(1);

/// Only 429s are retried here, after the wait Slack names (or one pace without one).
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: PACE,
        max_delay: PACE,
        budget: 2 * MAX_RETRY_AFTER,
        max_retry_after: MAX_RETRY_AFTER,
    }
}

pub struct SlackSink {
    endpoint: Endpoint,
    pace: Limiter,
    retry: RetryPolicy,
}

impl SlackSink {
    pub fn new(config: &SinkConfig, http: super::Http) -> Self {
        Self {
            endpoint: Endpoint::new(config, http),
            pace: Limiter::with_interval(PACE),
            retry: policy(),
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

    async fn post(&self, message: &Outgoing<'_>) -> Result<(), SinkError> {
        let payload = crate::render::slack::payload(&message.view);
        let mut attempts = self
            .retry
            .start(format_args!("Slack sink {}", self.endpoint.name));
        loop {
            if attempts.number() > 1 {
                self.pace.acquire().await;
            }
            let res = self
                .endpoint
                .send(&payload)
                .await
                .map_err(|e| self.endpoint.transport_error(&e))?;
            let (error, wait) = match self.endpoint.read(res, "Slack").await {
                Answer::Delivered => return Ok(()),
                Answer::Refused(e) => return Err(e),
                // A 5xx is not retried here: Slack may have posted already.
                Answer::Again { error, .. } if error.class() != FailureClass::Status(429) => {
                    return Err(error);
                }
                Answer::Again { error, wait } => (error, wait),
            };
            let Some(delay) = attempts.next_delay(Some(wait.unwrap_or(PACE))) else {
                attempts.give_up(&error);
                return Err(error);
            };
            // Hold every later post to this webhook back too, not only this one.
            self.pace.pause(delay).await;
            if !attempts.wait(delay, &"Slack rate limit").await {
                return Err(error);
            }
        }
    }
}
