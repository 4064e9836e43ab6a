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
pub mod gather;
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
    Retryable {
        sink: String,
        class: FailureClass,
        detail: String,
    },
    #[error("{sink}: {detail} (not retried)")]
    Permanent {
        sink: String,
        class: FailureClass,
        detail: String,
    },
}

impl SinkError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    /// What kind of failure it was, without anything the destination said.
    pub fn class(&self) -> FailureClass {
        match self {
            Self::Retryable { class, .. } | Self::Permanent { class, .. } => *class,
        }
    }

    pub fn sink(&self) -> &str {
        match self {
            Self::Retryable { sink, .. } | Self::Permanent { sink, .. } => sink,
        }
    }
}

/// The kind of a failed post, for text that must not quote a destination's answer (a notice
/// posted to the *other* destinations, a metric): an answer can echo the request, URL included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The destination answered with this HTTP status.
    Status(u16),
    /// It answered with a redirect, which riskrelay never follows with a post.
    Redirect(u16),
    Timeout,
    Unreachable,
    Transport,
    /// riskrelay was stopping and did not post.
    Stopping,
    /// A local destination (the terminal, a file) could not be written.
    Local,
}

impl std::fmt::Display for FailureClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status(429) => f.write_str("kept rate-limiting (HTTP 429)"),
            Self::Status(s) if *s >= 500 => write!(f, "failed on its side (HTTP {s})"),
            Self::Status(s) => write!(f, "refused the message (HTTP {s})"),
            Self::Redirect(s) => write!(f, "redirected (HTTP {s}): update its URL"),
            Self::Timeout => f.write_str("did not answer in time"),
            Self::Unreachable => f.write_str("could not be reached"),
            Self::Transport => f.write_str("the connection failed"),
            Self::Stopping => f.write_str("riskrelay was stopping"),
            Self::Local => f.write_str("could not be written"),
        }
    }
}

impl From<&crate::http::TransportFailure> for FailureClass {
    fn from(t: &crate::http::TransportFailure) -> Self {
        match t {
            crate::http::TransportFailure::Timeout => Self::Timeout,
            crate::http::TransportFailure::Connect => Self::Unreachable,
            crate::http::TransportFailure::Other(_) => Self::Transport,
        }
    }
}

/// One message for one destination: how to route it, what it says, and the message itself (for
/// destinations that carry structured data rather than text).
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub routing: Routing,
    pub view: View,
    pub message: &'a Message,
    /// The tenant's name when one deployment watches many (see [`gather`]).
    pub tenant_name: Option<String>,
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

/// A short, single-line excerpt of an error answer, scrubbed of every secret riskrelay holds
/// before it is cut short (see [`crate::redact`]).
pub(crate) fn excerpt(body: &str) -> String {
    crate::redact::excerpt(body, LOGGED_BODY_MAX)
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

/// How one answer of a destination is read.
pub(crate) enum Answer {
    Delivered,
    /// 429 or 5xx: may be tried again, after `wait` when the destination named one.
    Again {
        error: SinkError,
        wait: Option<Duration>,
    },
    /// Anything else, a redirect included: trying again will not help.
    Refused(SinkError),
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

    pub fn error(&self, retryable: bool, class: FailureClass, detail: String) -> SinkError {
        let sink = self.name.clone();
        if retryable {
            SinkError::Retryable {
                sink,
                class,
                detail,
            }
        } else {
            SinkError::Permanent {
                sink,
                class,
                detail,
            }
        }
    }

    /// A post that did not get an answer: retryable, described without the URL.
    pub fn transport_error(&self, e: &crate::http::TransportFailure) -> SinkError {
        self.error(true, e.into(), crate::redact::scrub(&e.to_string()))
    }

    /// Reads a destination's answer. A redirect is never followed (the client is built so): a
    /// post turned into a bodiless GET would count as delivered while nothing arrived. It fails
    /// for good, naming the status and not the new location, so the destination's URL gets fixed.
    pub async fn read(&self, res: reqwest::Response, vendor: &str) -> Answer {
        let status = res.status();
        if status.is_success() {
            return Answer::Delivered;
        }
        let code = status.as_u16();
        if status.is_redirection() {
            return Answer::Refused(self.error(
                false,
                FailureClass::Redirect(code),
                format!(
                    "{vendor} answered {code}, a redirect; riskrelay does not follow redirects with a post, so nothing was delivered: update the destination's URL to the one it now uses"
                ),
            ));
        }
        let wait = crate::http::retry_after(res.headers());
        let body = excerpt(&res.text().await.unwrap_or_default());
        let error = |retryable| {
            self.error(
                retryable,
                FailureClass::Status(code),
                format!("{vendor} answered {code}: {body}"),
            )
        };
        if code == 429 || status.is_server_error() {
            Answer::Again {
                error: error(true),
                wait,
            }
        } else {
            Answer::Refused(error(false))
        }
    }

    /// POSTs the request until the destination takes it: 5xx (and transport failures) are retried
    /// under `retry`, and 429 too unless `throttled` says to leave it to the queue; any other
    /// answer fails at once as permanent. `pace`, when given, is the destination's own spacing,
    /// pushed back by a 429's wait. `vendor` names the destination in errors.
    pub async fn deliver(
        &self,
        request: &Request,
        retry: &crate::http::RetryPolicy,
        throttled: Throttled,
        pace: Option<&crate::limiter::Limiter>,
        vendor: &str,
    ) -> Result<(), SinkError> {
        let mut attempts = retry.start(format_args!("{vendor} sink {}", self.name));
        loop {
            let (error, wait) = match self.send_request(request).await {
                Err(e) => (self.transport_error(&e), None),
                Ok(res) => match self.read(res, vendor).await {
                    Answer::Delivered => return Ok(()),
                    Answer::Refused(e) => return Err(e),
                    Answer::Again { error, wait } => (error, wait),
                },
            };
            let rate_limited = error.class() == FailureClass::Status(429);
            if rate_limited && throttled == Throttled::ToTheQueue {
                return Err(error);
            }
            let Some(delay) = attempts.next_delay(wait) else {
                attempts.give_up(&error);
                return Err(error);
            };
            if let (true, Some(pace)) = (rate_limited, pace) {
                // Every later post to this destination waits too, not only this one.
                pace.pause(delay).await;
            }
            if !attempts.wait(delay, &error).await {
                return Err(error);
            }
            if let Some(pace) = pace {
                pace.acquire().await;
            }
        }
    }

    /// POSTs the payload as JSON; a transport failure is described without the URL.
    pub async fn send(
        &self,
        payload: &serde_json::Value,
    ) -> Result<reqwest::Response, crate::http::TransportFailure> {
        self.send_request(&Request::json(payload)).await
    }

    async fn send_request(
        &self,
        request: &Request,
    ) -> Result<reqwest::Response, crate::http::TransportFailure> {
        self.http
            .client
            .post(secrecy::ExposeSecret::expose_secret(&self.url))
            .timeout(self.http.timeout)
            .headers(request.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request.body.clone())
            .send()
            .await
            .map_err(crate::http::TransportFailure::of)
    }
}

/// What a sink does with a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Throttled {
    /// Waits (the `Retry-After`, within the policy) and tries again.
    Retry,
    /// Fails the post as retryable at once: the destination asks for waits longer than a post
    /// should hold its delivery for, and the queue's later retry is that wait.
    ToTheQueue,
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

/// Builds the configured sinks on one shared HTTP client. Each destination's secrets (its URL,
/// its key) are held for scrubbing, however its settings were made.
pub fn build(configs: &[SinkConfig], http: Http) -> Vec<Arc<dyn Sink>> {
    configs
        .iter()
        .map(|c| -> Arc<dyn Sink> {
            crate::redact::hold_value(secrecy::ExposeSecret::expose_secret(&c.url));
            if let Some(key) = &c.key {
                crate::redact::hold_value(secrecy::ExposeSecret::expose_secret(key));
            }
            match c.kind {
                SinkKind::Slack => Arc::new(slack::SlackSink::new(c, http.clone())),
                SinkKind::Teams => Arc::new(teams::TeamsSink::new(c, http.clone())),
                SinkKind::PagerDuty => Arc::new(pagerduty::PagerDutySink::new(c, http.clone())),
                SinkKind::Webhook => Arc::new(webhook::WebhookSink::new(c, http.clone())),
            }
        })
        .collect()
}
