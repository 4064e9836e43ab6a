//! AWS Secrets Manager: one JSON secret holding every secret riskrelay needs.
//!
//! ```json
//! {
//!   "graph_client_secret": "…",          // or "graph_certificate" (PEM) or "graph_access_token"
//!   "client_state": "…",
//!   "client_state_previous": "…",        // optional, while rotating
//!   "slack_webhook_url": "https://hooks.slack.com/services/…",
//!   "teams_webhook_url": "https://…"     // and "<name>_webhook_url" for each named sink
//! }
//! ```
//!
//! The keys are those of the `RISKRELAY_*` variables used locally, in lower case without the
//! prefix. The secret is read at cold start and re-read after a TTL so a rotation reaches warm
//! functions without a redeploy.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use tokio::time::Instant;

use crate::config::SecretSource;

/// How long a read secret is trusted before it is read again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("could not read secret {id} from Secrets Manager: {detail}")]
    Unavailable { id: String, detail: String },
    #[error("secret {id} is not a JSON object of strings: {detail}")]
    Malformed { id: String, detail: String },
}

/// The secret's values, redacted in Debug output.
#[derive(Clone)]
pub struct JsonSecrets {
    id: String,
    values: BTreeMap<String, SecretString>,
    fingerprint: String,
}

impl std::fmt::Debug for JsonSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonSecrets")
            .field("id", &self.id)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl JsonSecrets {
    pub fn parse(id: &str, text: &str) -> Result<Self, SecretsError> {
        let malformed = |detail: String| SecretsError::Malformed {
            id: id.to_string(),
            detail,
        };
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|_| malformed("not a JSON object".into()))?;
        let mut values = BTreeMap::new();
        for (k, v) in map {
            match v {
                serde_json::Value::String(s) => {
                    values.insert(k.to_ascii_lowercase(), SecretString::from(s));
                }
                serde_json::Value::Null => {}
                _ => {
                    return Err(malformed(format!(
                        "the value of key \"{k}\" is not a string"
                    )));
                }
            }
        }
        Ok(Self {
            id: id.to_string(),
            values,
            fingerprint: crate::alert::keys::fingerprint([text]),
        })
    }

    /// Changes whenever the secret's content changes (reveals nothing of it).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

impl SecretSource for JsonSecrets {
    fn get(&self, key: &str) -> Option<SecretString> {
        self.values
            .get(key)
            .cloned()
            .filter(|v| !secrecy::ExposeSecret::expose_secret(v).is_empty())
    }

    fn describe(&self, key: &str) -> String {
        format!("key \"{key}\" of secret {}", self.id)
    }
}

/// Reads the secret, and again once the TTL has passed.
pub struct SecretCache {
    client: aws_sdk_secretsmanager::Client,
    id: String,
    ttl: Duration,
    cached: tokio::sync::Mutex<Option<(Instant, JsonSecrets)>>,
}

impl SecretCache {
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        id: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self {
            client,
            id: id.into(),
            ttl,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    async fn read(&self) -> Result<JsonSecrets, SecretsError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.id)
            .send()
            .await
            .map_err(|e| SecretsError::Unavailable {
                id: self.id.clone(),
                detail: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
            })?;
        let text = out.secret_string().ok_or_else(|| SecretsError::Malformed {
            id: self.id.clone(),
            detail: "it holds no string".into(),
        })?;
        JsonSecrets::parse(&self.id, text)
    }

    /// The secret, from the cache while it is fresh.
    pub async fn get(&self) -> Result<JsonSecrets, SecretsError> {
        let mut cached = self.cached.lock().await;
        if let Some((at, s)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(s.clone());
        }
        let fresh = self.read().await?;
        *cached = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn parses_strings_names_keys_and_redacts() {
        let s = JsonSecrets::parse("riskrelay/prod", r#"{"client_state":"abc","slack_webhook_url":"https://hooks.slack.com/x","unused":null}"#).unwrap();
        assert_eq!(s.get("client_state").unwrap().expose_secret(), "abc");
        assert!(s.get("teams_webhook_url").is_none());
        assert_eq!(
            s.describe("teams_webhook_url"),
            "key \"teams_webhook_url\" of secret riskrelay/prod"
        );
        assert!(!format!("{s:?}").contains("hooks.slack.com"));
        assert!(JsonSecrets::parse("x", "[1]").is_err());
        let err = JsonSecrets::parse("x", r#"{"client_state": 5}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("client_state") && !err.contains('5'), "{err}");
    }
}
