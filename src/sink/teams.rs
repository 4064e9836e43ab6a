//! Teams Workflows webhooks. A Workflows trigger answers `202 Accepted` with an empty body
//! (delivery itself is only visible in the flow's run history). 429 and 5xx are retried here
//! within a small budget: the trigger has not started a run when it answers that way.

use std::time::Duration;

use async_trait::async_trait;

use super::config::SinkConfig;
use super::{Endpoint, MAX_RETRY_AFTER, Outgoing, Sink, SinkError, excerpt};
use crate::http::RetryPolicy;
use crate::risk::RiskLevel;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(4),
        budget: 2 * MAX_RETRY_AFTER,
        max_retry_after: MAX_RETRY_AFTER,
    }
}

pub struct TeamsSink {
    endpoint: Endpoint,
    retry: RetryPolicy,
}

impl TeamsSink {
    pub fn new(config: &SinkConfig, http: super::Http) -> Self {
        Self {
            endpoint: Endpoint::new(config, http),
            retry: policy(),
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

    async fn post(&self, message: &Outgoing) -> Result<(), SinkError> {
        let payload = crate::render::teams::payload(&message.view);
        let mut attempts = self
            .retry
            .start(format_args!("Teams sink {}", self.endpoint.name));
        loop {
            let (error, wait) = match self.endpoint.send(&payload).await {
                Err(e) => (e, None),
                Ok(res) => {
                    let status = res.status();
                    if status.is_success() {
                        return Ok(());
                    }
                    let wait = crate::http::retry_after(res.headers());
                    let body = excerpt(&res.text().await.unwrap_or_default());
                    let error = format!("Teams answered {}: {body}", status.as_u16());
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(self.endpoint.error(false, error));
                    }
                    (error, wait)
                }
            };
            if !attempts.again(&error, wait).await {
                return Err(self.endpoint.error(true, error));
            }
        }
    }
}
