//! Teams Workflows webhooks. A Workflows trigger answers `202 Accepted` with an empty body
//! (delivery itself is only visible in the flow's run history). 429 and 5xx are retried here
//! within a small budget: the trigger has not started a run when it answers that way. Posts are
//! paced: Teams throttles a webhook sent more than four requests in a second (Microsoft's
//! "Create an Incoming Webhook" page, rate limiting).

use std::time::Duration;

use async_trait::async_trait;

use super::config::SinkConfig;
use super::{Endpoint, MAX_RETRY_AFTER, Outgoing, Sink, SinkError, Throttled};
use crate::http::RetryPolicy;
use crate::limiter::Limiter;
use crate::risk::RiskLevel;

/// At most four requests a second per webhook, with a margin for posts that arrive closer
/// together than they left.
pub const PACE: Duration = Duration::from_millis(300);

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
    pace: Limiter,
}

impl TeamsSink {
    pub fn new(config: &SinkConfig, http: super::Http) -> Self {
        Self {
            endpoint: Endpoint::new(config, http),
            retry: policy(),
            pace: Limiter::with_interval(PACE),
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

    async fn ready(&self) {
        self.pace.acquire().await;
    }

    async fn post(&self, message: &Outgoing<'_>) -> Result<(), SinkError> {
        let payload = crate::render::teams::payload(&message.view);
        self.endpoint
            .deliver(
                &super::Request::json(&payload),
                &self.retry,
                Throttled::Retry,
                Some(&self.pace),
                "Teams",
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn posts_are_paced_below_four_a_second() {
        let config = SinkConfig {
            name: "teams".into(),
            kind: super::super::config::SinkKind::Teams,
            url: secrecy::SecretString::from("https://example.invalid/workflows/x".to_string()),
            min_level: RiskLevel::Low,
            key: None,
        };
        let sink = TeamsSink::new(
            &config,
            super::super::Http {
                client: reqwest::Client::new(),
                timeout: Duration::from_secs(1),
            },
        );
        let start = tokio::time::Instant::now();
        for _ in 0..9 {
            sink.ready().await;
        }
        // Nine posts: the first at once, then one every 300 ms — 2.4 s, never 9 in 2 s.
        assert_eq!(start.elapsed(), 8 * PACE);
        assert!(8 * PACE > Duration::from_secs(2));
    }
}
