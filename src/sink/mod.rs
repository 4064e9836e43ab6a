//! Sinks: the destinations messages are posted to, behind one port.
//!
//! - [`config`]: the destinations' settings (`RISKRELAY_SINKS`, the webhook URL secrets).
//! - [`slack`]: Slack incoming webhooks.
//! - [`teams`]: Teams Workflows webhooks.
//! - [`console`]: a terminal, for `riskrelay run` and `demo`.
//! - [`file`](mod@file): the Slack and Teams payloads written to files, for the demo.
//! - [`pagerduty`]: PagerDuty's Events API v2, a page per user that resolves itself.
//! - [`webhook`]: any HTTPS endpoint (a SIEM, an automation), one signed JSON event per alert.
//!
//! A sink classifies every failure: retryable ones (429 after its budget, 5xx, timeouts) fail the
//! observation so the queue tries again later; permanent ones (a rejected payload, a deleted
//! channel) fail it too, so that it ends in the dead-letter queue instead of vanishing. Neither
//! kind of error ever carries the webhook URL.
//!
//! A new destination is one module here implementing [`Sink`], plus its arm in [`build`] and its
//! kind in [`config::SinkKind`].

pub mod config;
pub mod console;
pub mod file;
pub mod pagerduty;
pub mod slack;
pub mod teams;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::alert::{Message, Routing};
use crate::render::View;
use crate::risk::RiskLevel;
use config::{SinkConfig, SinkKind};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    #[error("{sink}: {detail} (will retry)")]
    Retryable { sink: String, detail: String },
    #[error("{sink}: {detail} (not retried)")]
    Permanent { sink: String, detail: String },
}

impl SinkError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }
}

/// One message for one destination: how to route it, what it says, and the message itself (for
/// destinations that carry structured data rather than text).
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub routing: Routing,
    pub view: View,
    pub message: &'a Message,
}

#[async_trait]
pub trait Sink: Send + Sync {
    fn name(&self) -> &str;
    /// User alerts below this level are not posted here.
    fn min_level(&self) -> &RiskLevel;
    /// Waits until the destination may take another message (its rate limit). Delivery calls
    /// this *before* claiming a message, so no claim is held while waiting: a crash then leaves
    /// nothing in progress behind.
    async fn ready(&self) {}
    /// Whether a burst of user alerts is better one digest here (a channel) than one message each
    /// (a pager, where every user is an incident of their own).
    fn digests(&self) -> bool {
        true
    }
    async fn post(&self, message: &Outgoing<'_>) -> Result<(), SinkError>;
}

/// Longest part of an error answer kept for the log.
pub const LOGGED_BODY_MAX: usize = 200;
/// Longest `Retry-After` waited for inside one delivery; longer waits fail the delivery and the
/// queue retries it later.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A short, single-line excerpt of an error answer.
pub(crate) fn excerpt(body: &str) -> String {
    crate::render::escape::truncate(&crate::render::escape::single_line(body), LOGGED_BODY_MAX)
}

/// What every webhook sink holds: its name, its URL (a credential), its minimum level, and the
/// shared HTTP client.
pub(crate) struct Endpoint {
    pub name: String,
    url: secrecy::SecretString,
    pub min_level: RiskLevel,
    http: Http,
}

/// The HTTP client the destinations post through (shared with the rest of the process), and the
/// whole-request timeout of one post.
#[derive(Clone)]
pub struct Http {
    pub client: reqwest::Client,
    pub timeout: std::time::Duration,
}

impl Endpoint {
    pub fn new(config: &SinkConfig, http: Http) -> Self {
        Self {
            name: config.name.clone(),
            url: config.url.clone(),
            min_level: config.min_level.clone(),
            http,
        }
    }

    pub fn error(&self, retryable: bool, detail: String) -> SinkError {
        let sink = self.name.clone();
        if retryable {
            SinkError::Retryable { sink, detail }
        } else {
            SinkError::Permanent { sink, detail }
        }
    }

    /// POSTs the request until the destination takes it: 429 and 5xx (and transport failures) are
    /// retried under `retry`, any other answer fails at once as permanent. `vendor` names the
    /// destination in errors; `secret` (when given) is cut out of any answer quoted in them.
    pub async fn deliver(
        &self,
        request: &Request,
        retry: &crate::http::RetryPolicy,
        vendor: &str,
        secret: Option<&str>,
    ) -> Result<(), SinkError> {
        let mut attempts = retry.start(format_args!("{vendor} sink {}", self.name));
        loop {
            let (error, wait) = match self.send_request(request).await {
                Err(e) => (e, None),
                Ok(res) => {
                    let status = res.status();
                    if status.is_success() {
                        return Ok(());
                    }
                    let wait = crate::http::retry_after(res.headers());
                    let mut body = excerpt(&res.text().await.unwrap_or_default());
                    if let Some(s) = secret.filter(|s| !s.is_empty()) {
                        body = body.replace(s, "[redacted]");
                    }
                    let error = format!("{vendor} answered {}: {body}", status.as_u16());
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(self.error(false, error));
                    }
                    (error, wait)
                }
            };
            if !attempts.again(&error, wait).await {
                return Err(self.error(true, error));
            }
        }
    }

    /// POSTs the payload as JSON; a transport failure is described without the URL.
    pub async fn send(&self, payload: &serde_json::Value) -> Result<reqwest::Response, String> {
        self.send_request(&Request::json(payload)).await
    }

    async fn send_request(&self, request: &Request) -> Result<reqwest::Response, String> {
        self.http
            .client
            .post(secrecy::ExposeSecret::expose_secret(&self.url))
            .timeout(self.http.timeout)
            .headers(request.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request.body.clone())
            .send()
            .await
            .map_err(|e| crate::http::TransportFailure::of(e).to_string())
    }
}

/// A JSON body exactly as it is sent (a signature covers these bytes), and any headers besides
/// `Content-Type`.
pub struct Request {
    pub body: bytes::Bytes,
    pub headers: reqwest::header::HeaderMap,
}

impl Request {
    pub fn json(payload: &serde_json::Value) -> Self {
        Self {
            body: bytes::Bytes::from(payload.to_string()),
            headers: reqwest::header::HeaderMap::new(),
        }
    }
}

/// Builds the configured sinks on one shared HTTP client.
pub fn build(configs: &[SinkConfig], http: Http) -> Vec<Arc<dyn Sink>> {
    configs
        .iter()
        .map(|c| -> Arc<dyn Sink> {
            match c.kind {
                SinkKind::Slack => Arc::new(slack::SlackSink::new(c, http.clone())),
                SinkKind::Teams => Arc::new(teams::TeamsSink::new(c, http.clone())),
                SinkKind::PagerDuty => Arc::new(pagerduty::PagerDutySink::new(c, http.clone())),
                SinkKind::Webhook => Arc::new(webhook::WebhookSink::new(c, http.clone())),
            }
        })
        .collect()
}
