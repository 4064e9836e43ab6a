//! The destinations' settings: the `RISKRELAY_SINKS` list and each one's secret (a chat webhook
//! URL, a PagerDuty routing key).

use std::fmt;

use secrecy::SecretString;

use crate::config::{
    ConfigError, Env, SecretSource, check_webhook_url, optional_secret, required_secret,
};
use crate::risk::RiskLevel;

/// Where chat messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Slack,
    Teams,
    PagerDuty,
    Webhook,
}

impl std::str::FromStr for SinkKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "slack" => Ok(Self::Slack),
            "teams" => Ok(Self::Teams),
            "pagerduty" => Ok(Self::PagerDuty),
            "webhook" => Ok(Self::Webhook),
            _ => Err("the kind must be slack, teams, pagerduty or webhook".into()),
        }
    }
}

/// PagerDuty's Events API v2 (the US service region; `RISKRELAY_<NAME>_EVENTS_URL` names the EU
/// one, `https://events.eu.pagerduty.com/v2/enqueue`).
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// A destination. Its webhook URL is a credential: whoever has it can post to the channel. For
/// PagerDuty, `url` is the Events API endpoint and `key` the integration's routing key (the
/// credential); for a generic webhook, `key` holds the signing secret(s).
#[derive(Clone)]
pub struct SinkConfig {
    pub name: String,
    pub kind: SinkKind,
    pub url: SecretString,
    pub min_level: RiskLevel,
    pub key: Option<SecretString>,
}

impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &"[redacted]")
            .field("min_level", &self.min_level)
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Standard Webhooks: a secret is `whsec_` and the base64 of 24 to 64 random bytes.
const SECRET_PREFIX: &str = "whsec_";
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// The key bytes of a generic webhook's signing secret: one or more `whsec_` secrets separated by
/// spaces (several while rotating, the new one first). The error never quotes a secret.
pub fn signing_secrets(value: &str) -> Result<Vec<Vec<u8>>, String> {
    use base64::Engine as _;
    let mut keys = Vec::new();
    for (i, part) in value.split_whitespace().enumerate() {
        let n = i + 1;
        let encoded = part
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| format!("secret {n} does not start with {SECRET_PREFIX}"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| format!("secret {n} is not base64 after {SECRET_PREFIX}"))?;
        if !SECRET_BYTES.contains(&bytes.len()) {
            return Err(format!(
                "secret {n} is {} bytes; it must be {} to {}",
                bytes.len(),
                SECRET_BYTES.start(),
                SECRET_BYTES.end()
            ));
        }
        keys.push(bytes);
    }
    if keys.is_empty() {
        return Err("it is empty".into());
    }
    Ok(keys)
}

/// What `RISKRELAY_SINKS` looks like.
pub const SINKS_EXPECTED: &str = "a comma-separated list of name:kind[:minimum level] (kinds slack, teams, pagerduty, webhook), such as secops:slack:medium,soc:teams:high,oncall:pagerduty:high,siem:webhook:low";

/// One entry of `RISKRELAY_SINKS`: its name (lower case), kind and own minimum level, if any.
struct Spec {
    name: String,
    kind: SinkKind,
    level: Option<RiskLevel>,
}

/// `RISKRELAY_SINKS` parsed and checked, without its secrets.
fn specs(list: &str) -> Result<Vec<Spec>, ConfigError> {
    let invalid = |reason: String| ConfigError::invalid("RISKRELAY_SINKS", SINKS_EXPECTED, reason);
    let mut out: Vec<Spec> = Vec::new();
    for spec in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parts: Vec<&str> = spec.split(':').collect();
        let (name, kind, level) = match parts.as_slice() {
            [name, kind] => (*name, *kind, None),
            [name, kind, level] => (*name, *kind, Some(*level)),
            _ => return Err(invalid(format!("\"{spec}\" is not name:kind[:level]"))),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid(format!(
                "the name \"{name}\" must be letters, digits and _"
            )));
        }
        let name = name.to_ascii_lowercase();
        if out.iter().any(|s| s.name == name) {
            return Err(invalid(format!("the name \"{name}\" is used twice")));
        }
        let kind = kind.parse::<SinkKind>().map_err(invalid)?;
        let level = level
            .map(|l| {
                RiskLevel::parse_minimum(l).map_err(|e| invalid(format!("level of {name}: {e}")))
            })
            .transpose()?;
        out.push(Spec { name, kind, level });
    }
    Ok(out)
}

/// The destination names `RISKRELAY_SINKS` lists (none when it is not set), checked as
/// [`load`] checks them, for what names destinations without needing their secrets
/// (`riskrelay tenants add --sinks`).
pub fn names(env: &Env) -> Result<Vec<String>, ConfigError> {
    Ok(match env.get("RISKRELAY_SINKS") {
        Some(list) => specs(list)?.into_iter().map(|s| s.name).collect(),
        None => Vec::new(),
    })
}

/// The destinations: `RISKRELAY_SINKS` with one `<NAME>_WEBHOOK_URL` secret each, or by default
/// one Slack and/or one Teams destination whose URL is set. `default_level` applies where a
/// destination names no level of its own.
pub fn load(
    env: &Env,
    secrets: &dyn SecretSource,
    default_level: &RiskLevel,
) -> Result<Vec<SinkConfig>, ConfigError> {
    let url_expected = "an https webhook URL";
    match env.get("RISKRELAY_SINKS") {
        None => {
            // Default: one Slack and/or one Teams destination, when their URL is set.
            let mut sinks = Vec::new();
            for (name, kind) in [("slack", SinkKind::Slack), ("teams", SinkKind::Teams)] {
                let key = format!("{name}_webhook_url");
                if let Some(url) = optional_secret(secrets, &key, url_expected, check_webhook_url)?
                {
                    sinks.push(SinkConfig {
                        name: name.into(),
                        kind,
                        url,
                        min_level: default_level.clone(),
                        key: None,
                    });
                }
            }
            Ok(sinks)
        }
        Some(list) => {
            let mut sinks: Vec<SinkConfig> = Vec::new();
            for Spec {
                name: lower,
                kind,
                level,
            } in specs(list)?
            {
                let min_level = level.unwrap_or_else(|| default_level.clone());
                let (url, key) = match kind {
                    SinkKind::PagerDuty => {
                        let var = format!("RISKRELAY_{}_EVENTS_URL", lower.to_ascii_uppercase());
                        let url = env.or(
                            &var,
                            "an https URL of PagerDuty's Events API v2",
                            PAGERDUTY_EVENTS_URL.to_string(),
                            |v| check_webhook_url(v).map(|()| v.to_string()),
                        )?;
                        let key = required_secret(
                            secrets,
                            &format!("{lower}_routing_key"),
                            "the PagerDuty integration's routing key (32 characters)",
                            |v| {
                                (v.len() == 32 && v.chars().all(|c| c.is_ascii_alphanumeric()))
                                    .then_some(())
                                    .ok_or_else(|| "it must be 32 letters and digits".to_string())
                            },
                        )?;
                        (SecretString::from(url), Some(key))
                    }
                    SinkKind::Webhook => {
                        let url = required_secret(
                            secrets,
                            &format!("{lower}_webhook_url"),
                            url_expected,
                            check_webhook_url,
                        )?;
                        let key = required_secret(
                            secrets,
                            &format!("{lower}_signing_secret"),
                            "a Standard Webhooks secret: whsec_ and the base64 of 24 to 64 bytes (several separated by spaces while rotating, the new one first)",
                            |v| signing_secrets(v).map(|_| ()),
                        )?;
                        (url, Some(key))
                    }
                    SinkKind::Slack | SinkKind::Teams => {
                        let secret = format!("{lower}_webhook_url");
                        let url =
                            required_secret(secrets, &secret, url_expected, check_webhook_url)?;
                        (url, None)
                    }
                };
                sinks.push(SinkConfig {
                    name: lower,
                    kind,
                    url,
                    min_level,
                    key,
                });
            }
            Ok(sinks)
        }
    }
}
