//! Typed configuration, parsed once at start-up.
//!
//! Plain settings come from `RISKRELAY_*` environment variables. Secrets (the Graph credential,
//! `clientState`, chat webhook URLs) come from a [`SecretSource`]: the environment when running
//! locally, one JSON secret in AWS Secrets Manager when deployed. Every failure names the variable
//! or secret key and what was expected, and never repeats the value it rejected.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::ids::TenantId;

pub const PREFIX: &str = "RISKRELAY_";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is not set: expected {expected}")]
    Missing { var: String, expected: String },
    #[error("{var} is invalid: expected {expected} ({reason})")]
    Invalid {
        var: String,
        expected: String,
        reason: String,
    },
}

impl ConfigError {
    pub fn invalid(
        var: impl Into<String>,
        expected: impl Into<String>,
        reason: impl fmt::Display,
    ) -> Self {
        Self::Invalid {
            var: var.into(),
            expected: expected.into(),
            reason: reason.to_string(),
        }
    }
}

/// A snapshot of the environment. Tests build one from pairs instead of mutating the process
/// environment, which other tests share.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Variable names only: values may be secrets when running locally.
        f.debug_struct("Env")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Env {
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_string(), value.to_string());
        self
    }

    /// An empty value counts as unset: `FOO=` in an env file means "no value", not "empty string".
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn required<T, E: fmt::Display>(
        &self,
        name: &str,
        expected: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Err(ConfigError::Missing {
                var: name.to_string(),
                expected: expected.to_string(),
            }),
            Some(v) => parse(v).map_err(|e| ConfigError::invalid(name, expected, e)),
        }
    }

    pub fn optional<T, E: fmt::Display>(
        &self,
        name: &str,
        expected: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(name)
            .map(|v| parse(v).map_err(|e| ConfigError::invalid(name, expected, e)))
            .transpose()
    }

    pub fn or<T, E: fmt::Display>(
        &self,
        name: &str,
        expected: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        Ok(self.optional(name, expected, parse)?.unwrap_or(default))
    }
}

/// Where secrets come from. Keys are snake_case names such as `client_state`.
pub trait SecretSource: Send + Sync {
    fn get(&self, key: &str) -> Option<SecretString>;
    /// How to name `key` in an error message: the variable or the secret's field.
    fn describe(&self, key: &str) -> String;
}

/// Secrets read from `RISKRELAY_<KEY>` variables, for local use.
pub struct EnvSecrets<'a>(pub &'a Env);

impl EnvSecrets<'_> {
    pub fn var_name(key: &str) -> String {
        format!("{PREFIX}{}", key.to_ascii_uppercase())
    }
}

impl SecretSource for EnvSecrets<'_> {
    fn get(&self, key: &str) -> Option<SecretString> {
        self.0.get(&Self::var_name(key)).map(SecretString::from)
    }

    fn describe(&self, key: &str) -> String {
        Self::var_name(key)
    }
}

/// Reads a required secret and checks it with `check`, whose error must not quote the value.
pub fn required_secret(
    secrets: &dyn SecretSource,
    key: &str,
    expected: &str,
    check: impl FnOnce(&str) -> Result<(), String>,
) -> Result<SecretString, ConfigError> {
    let value = secrets.get(key).ok_or_else(|| ConfigError::Missing {
        var: secrets.describe(key),
        expected: expected.to_string(),
    })?;
    check(value.expose_secret())
        .map_err(|reason| ConfigError::invalid(secrets.describe(key), expected, reason))?;
    Ok(value)
}

pub fn optional_secret(
    secrets: &dyn SecretSource,
    key: &str,
    expected: &str,
    check: impl FnOnce(&str) -> Result<(), String>,
) -> Result<Option<SecretString>, ConfigError> {
    if secrets.get(key).is_none() {
        return Ok(None);
    }
    required_secret(secrets, key, expected, check).map(Some)
}

/// Graph documents `clientState` as at most 128 characters on the subscription resource.
pub const CLIENT_STATE_MAX_CHARS: usize = 128;

fn check_client_state(v: &str) -> Result<(), String> {
    let n = v.chars().count();
    if n > CLIENT_STATE_MAX_CHARS {
        return Err(format!("it has {n} characters"));
    }
    if v.chars().any(char::is_control) {
        // Most often a trailing newline from a secrets file: Graph would echo it verbatim and no
        // notification would ever match.
        return Err("it contains a control character such as a newline".into());
    }
    Ok(())
}

/// The shared secret Graph echoes in every notification, plus the previous value while rotating.
#[derive(Clone)]
pub struct ClientStates {
    current: SecretString,
    previous: Option<SecretString>,
}

impl fmt::Debug for ClientStates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientStates")
            .field("current", &"[redacted]")
            .field("previous", &self.previous.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ClientStates {
    pub const EXPECTED: &'static str =
        "the subscription clientState, 1 to 128 characters without control characters";

    pub fn load(secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        Ok(Self {
            current: required_secret(secrets, "client_state", Self::EXPECTED, check_client_state)?,
            previous: optional_secret(
                secrets,
                "client_state_previous",
                Self::EXPECTED,
                check_client_state,
            )?,
        })
    }

    /// The value new subscriptions are created with.
    pub fn current(&self) -> &SecretString {
        &self.current
    }

    /// Constant-time comparison against the current and the previous value. Both comparisons always
    /// run, so timing does not reveal which one matched; only the length of the secret can leak.
    pub fn matches(&self, presented: &str) -> bool {
        let p = presented.as_bytes();
        let current = self.current.expose_secret().as_bytes().ct_eq(p);
        let previous = match &self.previous {
            Some(prev) => prev.expose_secret().as_bytes().ct_eq(p),
            None => subtle::Choice::from(0),
        };
        bool::from(current | previous)
    }
}

pub fn tenant_id(env: &Env) -> Result<TenantId, ConfigError> {
    env.required(
        "RISKRELAY_TENANT_ID",
        "the Entra tenant id, a GUID such as 00000000-0000-0000-0000-000000000000",
        TenantId::parse,
    )
}

/// What the webhook needs: nothing else, so it starts fast and holds no Graph credential.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub tenant_id: TenantId,
    pub client_states: ClientStates,
}

impl WebhookConfig {
    pub fn load(env: &Env, secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        Ok(Self {
            tenant_id: tenant_id(env)?,
            client_states: ClientStates::load(secrets)?,
        })
    }
}

/// The national clouds riskrelay supports (risk APIs are not offered in the China cloud).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Global,
    UsGov,
    UsGovDod,
}

impl Cloud {
    fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "global" | "public" => Ok(Self::Global),
            "usgov" | "gcchigh" => Ok(Self::UsGov),
            "dod" | "usgovdod" => Ok(Self::UsGovDod),
            _ => Err("not a supported cloud".into()),
        }
    }

    /// Token authority and Graph root per Microsoft's national cloud deployments table.
    fn defaults(self) -> (&'static str, &'static str) {
        match self {
            Self::Global => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
            ),
            Self::UsGov => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
            ),
            Self::UsGovDod => (
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
            ),
        }
    }
}

/// An endpoint root: https, or plain http only on a loopback host (local fakes, the simulator).
pub fn endpoint_root(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("plain http is only accepted for a loopback host".into()),
        _ => return Err("the scheme must be https".into()),
    }
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err("it must name a host and carry no credentials".into());
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(
            "it must be a root such as https://graph.microsoft.com, without a path or query".into(),
        );
    }
    Ok(url)
}

/// How riskrelay authenticates to Graph as an application.
#[derive(Debug, Clone)]
pub enum AppSecret {
    ClientSecret(SecretString),
    /// A PEM bundle with the certificate and its RSA private key.
    Certificate(SecretString),
}

#[derive(Debug, Clone)]
pub enum GraphCredential {
    App {
        client_id: uuid::Uuid,
        secret: AppSecret,
    },
    /// A bearer token obtained elsewhere, used as is until it expires.
    AccessToken(SecretString),
}

fn seconds(
    range: std::ops::RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<std::time::Duration, String> {
    move |v| {
        let n: u64 = v
            .parse()
            .map_err(|_| "not a whole number of seconds".to_string())?;
        if range.contains(&n) {
            Ok(std::time::Duration::from_secs(n))
        } else {
            Err(format!("outside {}..={}", range.start(), range.end()))
        }
    }
}

pub fn parse_seconds(
    range: std::ops::RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<std::time::Duration, String> {
    seconds(range)
}

#[derive(Debug, Clone)]
pub struct GraphConfig {
    pub tenant_id: TenantId,
    pub authority_host: url::Url,
    pub graph_root: url::Url,
    pub credential: GraphCredential,
    /// Identity-protection and Conditional Access requests per second. Graph allows 1 per second
    /// per tenant, shared by every app in the tenant; set it lower to leave room for others.
    pub identity_protection_rps: f64,
    pub request_timeout: std::time::Duration,
    /// Attempts per request, the first included, for 429, 5xx and timeouts.
    pub max_attempts: u32,
    /// Longest time spent retrying one request.
    pub retry_budget: std::time::Duration,
}

impl GraphConfig {
    pub fn load(env: &Env, secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        let cloud = env.or(
            "RISKRELAY_CLOUD",
            "global, usgov or dod",
            Cloud::Global,
            Cloud::parse,
        )?;
        let (authority, root) = cloud.defaults();
        let credential = Self::credential(env, secrets)?;
        Ok(Self {
            tenant_id: tenant_id(env)?,
            authority_host: env.or(
                "RISKRELAY_AUTHORITY_HOST",
                "an https URL such as https://login.microsoftonline.com",
                endpoint_root(authority)
                    .map_err(|e| ConfigError::invalid("RISKRELAY_CLOUD", "a cloud", e))?,
                endpoint_root,
            )?,
            graph_root: env.or(
                "RISKRELAY_GRAPH_ROOT",
                "an https URL such as https://graph.microsoft.com",
                endpoint_root(root)
                    .map_err(|e| ConfigError::invalid("RISKRELAY_CLOUD", "a cloud", e))?,
                endpoint_root,
            )?,
            credential,
            identity_protection_rps: env.or(
                "RISKRELAY_IDENTITY_PROTECTION_RPS",
                "a number above 0 and at most 1",
                1.0,
                |v| match v.parse::<f64>() {
                    Ok(r) if r > 0.0 && r <= 1.0 => Ok(r),
                    _ => Err("Graph allows at most 1 request per second per tenant"),
                },
            )?,
            request_timeout: env.or(
                "RISKRELAY_GRAPH_TIMEOUT_SECONDS",
                "seconds, 1 to 300",
                std::time::Duration::from_secs(30),
                seconds(1..=300),
            )?,
            max_attempts: env.or(
                "RISKRELAY_GRAPH_MAX_ATTEMPTS",
                "a whole number from 1 to 10",
                5,
                |v| match v.parse::<u32>() {
                    Ok(n) if (1..=10).contains(&n) => Ok(n),
                    _ => Err("outside 1..=10"),
                },
            )?,
            retry_budget: std::time::Duration::from_secs(120),
        })
    }

    fn credential(env: &Env, secrets: &dyn SecretSource) -> Result<GraphCredential, ConfigError> {
        let no_check = |_: &str| Ok(());
        let secret = optional_secret(
            secrets,
            "graph_client_secret",
            "the app's client secret",
            no_check,
        )?;
        let cert = optional_secret(
            secrets,
            "graph_certificate",
            "a PEM bundle with the app certificate and its RSA private key",
            no_check,
        )?;
        let token = optional_secret(
            secrets,
            "graph_access_token",
            "a Graph access token",
            no_check,
        )?;
        let expected = format!(
            "exactly one Graph credential: {}, {} or {}",
            secrets.describe("graph_client_secret"),
            secrets.describe("graph_certificate"),
            secrets.describe("graph_access_token")
        );
        let client_id = || {
            env.required(
                "RISKRELAY_CLIENT_ID",
                "the app registration's application (client) id, a GUID",
                crate::ids::parse_guid,
            )
        };
        match (secret, cert, token) {
            (Some(s), None, None) => Ok(GraphCredential::App {
                client_id: client_id()?,
                secret: AppSecret::ClientSecret(s),
            }),
            (None, Some(c), None) => Ok(GraphCredential::App {
                client_id: client_id()?,
                secret: AppSecret::Certificate(c),
            }),
            (None, None, Some(t)) => Ok(GraphCredential::AccessToken(t)),
            (None, None, None) => Err(ConfigError::Missing {
                var: secrets.describe("graph_client_secret"),
                expected,
            }),
            _ => Err(ConfigError::invalid(
                secrets.describe("graph_client_secret"),
                expected,
                "more than one credential is set",
            )),
        }
    }
}

/// Where chat messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Slack,
    Teams,
}

impl SinkKind {
    fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "slack" => Ok(Self::Slack),
            "teams" => Ok(Self::Teams),
            _ => Err("the kind must be slack or teams".into()),
        }
    }
}

/// A chat destination. Its webhook URL is a credential: whoever has it can post to the channel.
#[derive(Clone)]
pub struct SinkConfig {
    pub name: String,
    pub kind: SinkKind,
    pub url: SecretString,
    pub min_level: crate::risk::RiskLevel,
}

impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &"[redacted]")
            .field("min_level", &self.min_level)
            .finish()
    }
}

/// Checks a webhook URL without ever quoting it: https (or http on loopback, for local fakes),
/// with a host.
pub fn check_webhook_url(v: &str) -> Result<(), String> {
    let url = url::Url::parse(v).map_err(|_| "it is not a URL".to_string())?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err("it has no host".into()),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("it must be an https URL".into()),
    }
}

/// What to alert on and where.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub sinks: Vec<SinkConfig>,
    pub kinds: std::collections::BTreeSet<crate::alert::AlertKind>,
    /// More user alerts than this in one cycle become one digest per destination.
    pub digest_threshold: usize,
}

impl AlertsConfig {
    pub const SINKS_EXPECTED: &'static str = "a comma-separated list of name:kind[:minimum level], such as secops:slack:medium,soc:teams:high";

    pub fn load(env: &Env, secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        let default_level = env.or(
            "RISKRELAY_MIN_RISK_LEVEL",
            "low, medium or high",
            crate::risk::RiskLevel::Medium,
            crate::risk::RiskLevel::parse_minimum,
        )?;
        let kinds = env.or(
            "RISKRELAY_ALERT_KINDS",
            "a comma-separated list of alert kinds",
            crate::alert::AlertKind::ALL.into_iter().collect(),
            |v| {
                v.split(',')
                    .filter(|k| !k.trim().is_empty())
                    .map(crate::alert::AlertKind::parse)
                    .collect()
            },
        )?;
        let digest_threshold = env.or(
            "RISKRELAY_DIGEST_THRESHOLD",
            "a whole number from 1 to 1000",
            10,
            |v| match v.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => Ok(n),
                _ => Err("outside 1..=1000"),
            },
        )?;
        let url_expected = "an https webhook URL";
        let sinks = match env.get("RISKRELAY_SINKS") {
            None => {
                // Default: one Slack and/or one Teams destination, when their URL is set.
                let mut sinks = Vec::new();
                for (name, kind) in [("slack", SinkKind::Slack), ("teams", SinkKind::Teams)] {
                    let key = format!("{name}_webhook_url");
                    if let Some(url) =
                        optional_secret(secrets, &key, url_expected, check_webhook_url)?
                    {
                        sinks.push(SinkConfig {
                            name: name.into(),
                            kind,
                            url,
                            min_level: default_level.clone(),
                        });
                    }
                }
                sinks
            }
            Some(list) => {
                let mut sinks: Vec<SinkConfig> = Vec::new();
                for spec in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let parts: Vec<&str> = spec.split(':').collect();
                    let invalid = |reason: String| {
                        ConfigError::invalid("RISKRELAY_SINKS", Self::SINKS_EXPECTED, reason)
                    };
                    let (name, kind, level) = match parts.as_slice() {
                        [name, kind] => (*name, *kind, None),
                        [name, kind, level] => (*name, *kind, Some(*level)),
                        _ => return Err(invalid(format!("\"{spec}\" is not name:kind[:level]"))),
                    };
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(invalid(format!(
                            "the name \"{name}\" must be letters, digits and _"
                        )));
                    }
                    if sinks.iter().any(|s| s.name.eq_ignore_ascii_case(name)) {
                        return Err(invalid(format!("the name \"{name}\" is used twice")));
                    }
                    let kind = SinkKind::parse(kind).map_err(invalid)?;
                    let min_level = match level {
                        None => default_level.clone(),
                        Some(l) => crate::risk::RiskLevel::parse_minimum(l)
                            .map_err(|e| invalid(format!("level of {name}: {e}")))?,
                    };
                    let key = format!("{}_webhook_url", name.to_ascii_lowercase());
                    let url = required_secret(secrets, &key, url_expected, check_webhook_url)?;
                    sinks.push(SinkConfig {
                        name: name.to_ascii_lowercase(),
                        kind,
                        url,
                        min_level,
                    });
                }
                sinks
            }
        };
        Ok(Self {
            sinks,
            kinds,
            digest_threshold,
        })
    }
}

/// The posture checks and the drift guard.
#[derive(Debug, Clone)]
pub struct PostureConfig {
    pub drift_mode: crate::drift::DriftMode,
    /// A last password sync older than this is a finding. Password hash sync runs every two
    /// minutes, so hours without one means it has stopped.
    pub password_sync_stale_after: std::time::Duration,
}

impl PostureConfig {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            drift_mode: env.or(
                "RISKRELAY_DRIFT_MODE",
                "off, report or enforce",
                crate::drift::DriftMode::Report,
                crate::drift::DriftMode::parse,
            )?,
            password_sync_stale_after: env.or(
                "RISKRELAY_PASSWORD_SYNC_STALE_AFTER_MINUTES",
                "minutes, 10 to 10080",
                std::time::Duration::from_secs(3 * 3600),
                |v| {
                    let n: u64 = v
                        .parse()
                        .map_err(|_| "not a whole number of minutes".to_string())?;
                    if (10..=10_080).contains(&n) {
                        Ok(std::time::Duration::from_secs(n * 60))
                    } else {
                        Err("outside 10..=10080".to_string())
                    }
                },
            )?,
        })
    }
}

/// How far before the checkpoint each poll reads again (`RISKRELAY_POLL_OVERLAP_MINUTES`).
pub fn poll_overlap(env: &Env) -> Result<std::time::Duration, ConfigError> {
    env.or(
        "RISKRELAY_POLL_OVERLAP_MINUTES",
        "minutes, 1 to 2880",
        crate::poll::DEFAULT_OVERLAP,
        |v| {
            let n: u64 = v
                .parse()
                .map_err(|_| "not a whole number of minutes".to_string())?;
            if (1..=2880).contains(&n) {
                Ok(std::time::Duration::from_secs(n * 60))
            } else {
                Err("outside 1..=2880".to_string())
            }
        },
    )
}

impl crate::subscriptions::SubscriptionsConfig {
    /// `RISKRELAY_SUBSCRIPTIONS` (none by default) and `RISKRELAY_PUBLIC_URL`.
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        let wanted = env.or(
            "RISKRELAY_SUBSCRIPTIONS",
            "a comma-separated list of users, ipc-alerts",
            Vec::new(),
            |v| {
                v.split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(crate::subscriptions::Wanted::parse)
                    .collect::<Result<Vec<_>, _>>()
            },
        )?;
        let public_url = env.optional(
            "RISKRELAY_PUBLIC_URL",
            "the webhook's public https base URL",
            |v| {
                check_webhook_url(v)?;
                url::Url::parse(v).map_err(|e| e.to_string())
            },
        )?;
        if !wanted.is_empty() && public_url.is_none() {
            return Err(ConfigError::Missing {
                var: "RISKRELAY_PUBLIC_URL".into(),
                expected: "the webhook's public https base URL, needed because RISKRELAY_SUBSCRIPTIONS is set".into(),
            });
        }
        Ok(Self { wanted, public_url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "11111111-2222-3333-4444-555555555555";

    fn env() -> Env {
        Env::default()
            .with("RISKRELAY_TENANT_ID", TENANT)
            .with("RISKRELAY_CLIENT_STATE", "s3cret-current-value")
            .with("RISKRELAY_CLIENT_STATE_PREVIOUS", "s3cret-previous-value")
    }

    #[test]
    fn loads_and_debug_shows_no_secret() {
        let env = env();
        let cfg = WebhookConfig::load(&env, &EnvSecrets(&env)).unwrap();
        assert_eq!(cfg.tenant_id.to_string(), TENANT);
        let debug = format!("{cfg:?} {cfg:#?} {env:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("redacted"));
    }

    #[test]
    fn missing_and_malformed_values_name_the_variable() {
        let e = Env::default().with("RISKRELAY_CLIENT_STATE", "x");
        let err = WebhookConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("RISKRELAY_TENANT_ID is not set"), "{err}");

        let e = env().with("RISKRELAY_TENANT_ID", "contoso.onmicrosoft.com");
        let err = WebhookConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RISKRELAY_TENANT_ID is invalid") && err.contains("GUID"),
            "{err}"
        );

        let e = env().with("RISKRELAY_CLIENT_STATE", "");
        let err = WebhookConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("RISKRELAY_CLIENT_STATE is not set"),
            "{err}"
        );
    }

    #[test]
    fn client_state_limits_and_no_echo() {
        let long = "k".repeat(129);
        let e = env().with("RISKRELAY_CLIENT_STATE", &long);
        let err = WebhookConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RISKRELAY_CLIENT_STATE is invalid") && err.contains("129 characters"),
            "{err}"
        );
        assert!(!err.contains(&long));

        let e = env().with("RISKRELAY_CLIENT_STATE_PREVIOUS", "oldvalue\n");
        let err = WebhookConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RISKRELAY_CLIENT_STATE_PREVIOUS") && err.contains("control character"),
            "{err}"
        );
        assert!(!err.contains("oldvalue"));

        let ok = "é".repeat(128);
        let e = env().with("RISKRELAY_CLIENT_STATE", &ok);
        assert!(WebhookConfig::load(&e, &EnvSecrets(&e)).is_ok());
    }

    fn graph_env() -> Env {
        env()
            .with(
                "RISKRELAY_CLIENT_ID",
                "22222222-3333-4444-5555-666666666666",
            )
            .with("RISKRELAY_GRAPH_CLIENT_SECRET", "graph-secret-value")
    }

    #[test]
    fn graph_config_defaults_clouds_and_loopback_rule() {
        let e = graph_env();
        let c = GraphConfig::load(&e, &EnvSecrets(&e)).unwrap();
        assert_eq!(c.graph_root.as_str(), "https://graph.microsoft.com/");
        assert_eq!(
            c.authority_host.as_str(),
            "https://login.microsoftonline.com/"
        );
        assert_eq!(c.identity_protection_rps, 1.0);
        assert!(!format!("{c:?}").contains("graph-secret-value"));

        let e = graph_env().with("RISKRELAY_CLOUD", "dod");
        let c = GraphConfig::load(&e, &EnvSecrets(&e)).unwrap();
        assert_eq!(c.graph_root.as_str(), "https://dod-graph.microsoft.us/");
        assert_eq!(
            c.authority_host.as_str(),
            "https://login.microsoftonline.us/"
        );

        let e = graph_env().with("RISKRELAY_GRAPH_ROOT", "http://127.0.0.1:8081");
        assert!(GraphConfig::load(&e, &EnvSecrets(&e)).is_ok());
        for bad in [
            "http://graph.example.com",
            "ftp://127.0.0.1",
            "https://graph.microsoft.com/v1.0",
            "https://graph.microsoft.com/?x=1",
            "https://u:p@graph.microsoft.com",
        ] {
            let e = graph_env().with("RISKRELAY_GRAPH_ROOT", bad);
            let err = GraphConfig::load(&e, &EnvSecrets(&e))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("RISKRELAY_GRAPH_ROOT is invalid"),
                "{bad}: {err}"
            );
        }
        let e = graph_env().with("RISKRELAY_IDENTITY_PROTECTION_RPS", "2");
        let err = GraphConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RISKRELAY_IDENTITY_PROTECTION_RPS")
                && err.contains("1 request per second"),
            "{err}"
        );
    }

    #[test]
    fn graph_credential_must_be_exactly_one() {
        let e = env().with(
            "RISKRELAY_CLIENT_ID",
            "22222222-3333-4444-5555-666666666666",
        );
        let err = GraphConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RISKRELAY_GRAPH_CLIENT_SECRET is not set")
                && err.contains("RISKRELAY_GRAPH_ACCESS_TOKEN"),
            "{err}"
        );

        let e = graph_env().with("RISKRELAY_GRAPH_ACCESS_TOKEN", "tok");
        let err = GraphConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than one"), "{err}");

        let e = env().with("RISKRELAY_GRAPH_ACCESS_TOKEN", "tok");
        assert!(matches!(
            GraphConfig::load(&e, &EnvSecrets(&e)).unwrap().credential,
            GraphCredential::AccessToken(_)
        ));

        let e = graph_env().with("RISKRELAY_CLIENT_ID", "");
        let err = GraphConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("RISKRELAY_CLIENT_ID is not set"), "{err}");
    }

    #[test]
    fn sinks_default_from_urls_and_explicit_lists() {
        let e = env().with(
            "RISKRELAY_SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T0/B0/SECRETPART",
        );
        let c = AlertsConfig::load(&e, &EnvSecrets(&e)).unwrap();
        assert_eq!(c.sinks.len(), 1);
        assert_eq!(
            (
                c.sinks[0].name.as_str(),
                c.sinks[0].kind,
                &c.sinks[0].min_level
            ),
            ("slack", SinkKind::Slack, &crate::risk::RiskLevel::Medium)
        );
        assert!(!format!("{c:?}").contains("SECRETPART"));
        assert_eq!(c.digest_threshold, 10);
        assert_eq!(c.kinds.len(), crate::alert::AlertKind::ALL.len());

        let e = env()
            .with("RISKRELAY_SINKS", "secops:slack:low, soc:teams:high")
            .with("RISKRELAY_SECOPS_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/X")
            .with("RISKRELAY_SOC_WEBHOOK_URL", "https://prod-01.westus.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=abc")
            .with("RISKRELAY_ALERT_KINDS", "newRisk,remediated");
        let c = AlertsConfig::load(&e, &EnvSecrets(&e)).unwrap();
        assert_eq!(
            c.sinks
                .iter()
                .map(|s| (s.name.as_str(), s.min_level.clone()))
                .collect::<Vec<_>>(),
            vec![
                ("secops", crate::risk::RiskLevel::Low),
                ("soc", crate::risk::RiskLevel::High)
            ]
        );
        assert_eq!(c.kinds.len(), 2);
    }

    #[test]
    fn sink_errors_name_the_variable_and_never_the_url() {
        let e = env().with("RISKRELAY_SINKS", "secops:slack");
        let err = AlertsConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("RISKRELAY_SECOPS_WEBHOOK_URL is not set"),
            "{err}"
        );

        let e = env().with(
            "RISKRELAY_SLACK_WEBHOOK_URL",
            "http://hooks.slack.com/services/T0/B0/SECRETPART",
        );
        let err = AlertsConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("RISKRELAY_SLACK_WEBHOOK_URL is invalid")
                && !err.contains("SECRETPART"),
            "{err}"
        );

        for bad in [
            "x:discord",
            "a:slack:critical",
            "bad-name:slack",
            "a:slack,a:teams",
            "a",
        ] {
            let e = env()
                .with("RISKRELAY_SINKS", bad)
                .with("RISKRELAY_A_WEBHOOK_URL", "https://x.example/");
            let err = AlertsConfig::load(&e, &EnvSecrets(&e))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("RISKRELAY_SINKS is invalid"),
                "{bad}: {err}"
            );
        }
        let e = env().with("RISKRELAY_ALERT_KINDS", "newRisk,everything");
        let err = AlertsConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RISKRELAY_ALERT_KINDS") && err.contains("known kinds are"),
            "{err}"
        );
    }

    #[test]
    fn matches_current_and_previous_only_exactly() {
        let e = env();
        let states = ClientStates::load(&EnvSecrets(&e)).unwrap();
        assert!(states.matches("s3cret-current-value"));
        assert!(states.matches("s3cret-previous-value"));
        for near in [
            "",
            "s3cret-current-valu",
            "s3cret-current-value ",
            " s3cret-current-value",
            "S3cret-current-value",
            "s3cret-current-valuе", // Cyrillic е
            "s3cret-previous-value\0",
        ] {
            assert!(!states.matches(near), "{near:?} matched");
        }

        let e = Env::default().with("RISKRELAY_CLIENT_STATE", "new");
        let states = ClientStates::load(&EnvSecrets(&e)).unwrap();
        assert!(states.matches("new"));
        assert!(!states.matches("s3cret-previous-value"));
    }
}
