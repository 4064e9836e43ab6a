//! PagerDuty through its Events API v2: a page opens when a user's risk begins (at or above the
//! destination's level) and closes itself when the risk ends.
//!
//! Each alert becomes one event whose `dedup_key` is the incident it belongs to (the tenant, the
//! user and when the risk episode began; or the posture check): a `trigger` while it lasts —
//! PagerDuty folds a later trigger with the same key into the open alert, so an escalation updates
//! the page instead of opening another — and a `resolve` when it ends. The user's next episode has
//! a new key and pages anew. Messages about no single incident (digests, the baseline summary,
//! operations and snooze notices, the standing summary) are not paged. PagerDuty answers 202; 400
//! means the event was refused (not retried); a 5xx is retried once.
//!
//! PagerDuty takes about 120 events a minute per routing key, and advises retrying a 429 about
//! 30 seconds apart or with "a backoff of a few minutes" (Events API v2 overview and rate limits):
//! so events are paced at two a second, and a 429 is handed to the queue at once — its next
//! attempt (the queue's redelivery, the next cycle) is that backoff — instead of holding the
//! delivery in process.

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::{Endpoint, Outgoing, Sink, SinkError};
use crate::http::RetryPolicy;
use crate::render::{View, plain};
use crate::risk::RiskLevel;

use super::config::SinkConfig;

/// PagerDuty limits an event's summary to 1,024 characters.
const SUMMARY_MAX: usize = 1024;

/// About 120 events a minute per routing key: two a second at most.
pub const PACE: std::time::Duration = std::time::Duration::from_millis(500);

/// A 5xx or a lost connection is tried once more after a short wait; a 429 never waits here.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        base_delay: std::time::Duration::from_secs(2),
        max_delay: std::time::Duration::from_secs(4),
        budget: super::MAX_RETRY_AFTER,
        max_retry_after: super::MAX_RETRY_AFTER,
    }
}

pub struct PagerDutySink {
    endpoint: Endpoint,
    routing_key: secrecy::SecretString,
    retry: RetryPolicy,
    pace: crate::limiter::Limiter,
}

impl PagerDutySink {
    pub fn new(config: &SinkConfig, http: super::Http) -> Self {
        Self {
            endpoint: Endpoint::new(config, http),
            routing_key: config
                .key
                .clone()
                .unwrap_or_else(|| secrecy::SecretString::from(String::new())),
            retry: policy(),
            pace: crate::limiter::Limiter::with_interval(PACE),
        }
    }
}

/// PagerDuty's severity for a message: a high user risk or a compromise is critical. A user
/// alert is rated at the level the user is at now, so a lowered risk updates the open incident
/// at its new, lower severity (the level it is *routed* at is the one before the change).
fn severity(message: &Outgoing<'_>) -> &'static str {
    use crate::alert::{AlertKind, Message};
    if message.routing.kind == Some(AlertKind::ConfirmedCompromised) {
        return "critical";
    }
    let level = match message.message {
        Message::User(a) => Some(&a.user.risk_level),
        Message::Workload(a) => Some(&a.workload.risk_level),
        _ => message.routing.level.as_ref(),
    };
    match level {
        Some(RiskLevel::High) => "critical",
        Some(RiskLevel::Medium) => "error",
        Some(RiskLevel::Low) => "warning",
        Some(_) => "info",
        // Posture findings: the tenant's protection is weakened, nobody is compromised yet.
        None => "warning",
    }
}

/// What the alert says, for the incident's details: its facts, lists and callout as plain text.
fn details(view: &View) -> Value {
    let mut out = Map::new();
    for (label, value) in &view.facts {
        out.insert(label.clone(), json!(value));
    }
    for list in &view.lists {
        let items: Vec<String> = list.items.iter().map(|i| plain(i)).collect();
        out.insert(list.heading.clone(), json!(items));
    }
    if let Some(c) = &view.callout {
        out.insert(c.headline.clone(), json!(plain(&c.text)));
    }
    if !view.status.is_empty() {
        out.insert("Status".into(), json!(plain(&view.status)));
    }
    Value::Object(out)
}

/// The event for a message, or `None` when it is about no single incident.
pub fn event(message: &Outgoing<'_>, routing_key: &str) -> Option<Value> {
    let incident = message.routing.incident.as_deref()?;
    let dedup_key = format!("riskrelay/{incident}");
    if message.routing.resolves {
        return Some(json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        }));
    }
    let summary: String = message.view.fallback.chars().take(SUMMARY_MAX).collect();
    Some(json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": summary,
            "source": "riskrelay",
            "severity": severity(message),
            "component": "Microsoft Entra ID Protection",
            "group": message.routing.tenant_id.to_string(),
            "class": message.routing.kind.map(|k| k.to_string()),
            "custom_details": details(&message.view),
        },
        "links": message.view.links.iter().map(|l| json!({"href": l.url, "text": l.label})).collect::<Vec<_>>(),
    }))
}

#[async_trait]
impl Sink for PagerDutySink {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    fn min_level(&self) -> &RiskLevel {
        &self.endpoint.min_level
    }

    /// Every user is their own incident: a page per user, never a digest.
    fn digests(&self) -> bool {
        false
    }

    async fn ready(&self) {
        self.pace.acquire().await;
    }

    async fn post(&self, message: &Outgoing<'_>) -> Result<(), SinkError> {
        let Some(body) = event(
            message,
            secrecy::ExposeSecret::expose_secret(&self.routing_key),
        ) else {
            return Ok(());
        };
        // The key is a credential held for scrubbing (see crate::redact): an answer quoting it
        // never reaches a log line.
        self.endpoint
            .deliver(
                &super::Request::json(&body),
                &self.retry,
                super::Throttled::ToTheQueue,
                Some(&self.pace),
                "PagerDuty",
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::config::SinkKind;

    #[tokio::test(start_paused = true)]
    async fn events_are_paced_within_120_a_minute() {
        let config = SinkConfig {
            name: "oncall".into(),
            kind: SinkKind::PagerDuty,
            url: secrecy::SecretString::from(super::super::config::PAGERDUTY_EVENTS_URL),
            min_level: RiskLevel::High,
            key: Some(secrecy::SecretString::from(
                "R0ut1ngK3yR0ut1ngK3yR0ut1ngK3y12",
            )),
        };
        let sink = PagerDutySink::new(
            &config,
            super::super::Http {
                client: reqwest::Client::new(),
                timeout: std::time::Duration::from_secs(1),
            },
        );
        let start = tokio::time::Instant::now();
        for _ in 0..121 {
            sink.ready().await;
        }
        // 121 events take a minute: never more than 120 in one.
        assert_eq!(start.elapsed(), std::time::Duration::from_secs(60));
    }
}
