//! Teams Workflows webhooks. A Workflows trigger answers `202 Accepted` with an empty body
//! (delivery itself is only visible in the flow's run history). 429 and 5xx are retried here
//! within a small budget: the trigger has not started a run when it answers that way.

use std::time::Duration;

use async_trait::async_trait;

use super::config::SinkConfig;
use super::{Endpoint, MAX_RETRY_AFTER, Outgoing, Sink, SinkError};
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

    async fn post(&self, message: &Outgoing<'_>) -> Result<(), SinkError> {
        let payload = crate::render::teams::payload(&message.view);
        self.endpoint
            .deliver(&super::Request::json(&payload), &self.retry, "Teams")
            .await
    }
}
