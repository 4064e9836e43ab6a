//! Slack's interactivity Request URL, `POST /slack/interactions`.
//!
//! A click on any button of a Slack message, a URL button included, makes Slack send the app an
//! interaction payload; when nothing answers it within 3 seconds, the click shows a ⚠️ "app has
//! not been configured" warning. riskrelay's buttons are all links (the action pages and the Entra
//! admin center do the work), so this endpoint acknowledges and does nothing else. It answers 200
//! only to a request Slack signed with the app's signing secret within the last five minutes
//! ([`crate::slack_signature`]); anything else gets 401, and one log line saying why, without the
//! request's body or headers.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};

use crate::api_error::ApiError;
use crate::clock::Clock;
use crate::config::{ConfigError, SecretSource, optional_secret};

/// Where the endpoint is served (the Slack app manifest's `request_url` ends with it).
pub const PATH: &str = "/slack/interactions";

/// The interactivity endpoint, when `RISKRELAY_SLACK_SIGNING_SECRET` is set.
pub struct SlackInteractions {
    secret: secrecy::SecretString,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SlackInteractions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackInteractions { secret: [redacted] }")
    }
}

impl SlackInteractions {
    /// The endpoint, when the Slack app's signing secret (`slack_signing_secret`) is configured.
    pub fn load(
        secrets: &dyn SecretSource,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Self>, ConfigError> {
        let expected = "the Slack app's signing secret (Basic Information → App Credentials)";
        let secret = optional_secret(secrets, "slack_signing_secret", expected, |v| {
            // Slack's are 32 hex characters; anything much shorter is a paste gone wrong.
            if v.trim().len() < 16 || v.chars().any(char::is_whitespace) {
                Err("it is shorter than 16 characters or contains spaces".into())
            } else {
                Ok(())
            }
        })?;
        Ok(secret.map(|secret| Self { secret, clock }))
    }
}

#[async_trait::async_trait]
impl crate::server::HttpApp for SlackInteractions {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        if req.uri().path() != PATH {
            return ApiError::NotFound.into_response();
        }
        if req.method() != Method::POST {
            return ApiError::MethodNotAllowed.into_response();
        }
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        if let Err(why) = crate::slack_signature::verify(
            &self.secret,
            header("x-slack-request-timestamp"),
            header("x-slack-signature"),
            req.body(),
            self.clock.now(),
        ) {
            tracing::warn!(reason = %why, "a request to the Slack interactivity URL was refused");
            return ApiError::Unauthorized.into_response();
        }
        tracing::info!(kind = %interaction_type(req.body()), "a Slack interaction acknowledged");
        let mut res = Response::new(Bytes::new());
        *res.status_mut() = StatusCode::OK;
        res
    }
}

/// The payload's `type` (`block_actions` for a button), for the log; "unknown" when the form or
/// its JSON is not what Slack documents. Only this one field is read.
fn interaction_type(body: &[u8]) -> String {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str::<serde_json::Value>(&v).ok())
        .and_then(|p| p.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .filter(|t| t.len() <= 64 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or_else(|| "unknown".into())
}
