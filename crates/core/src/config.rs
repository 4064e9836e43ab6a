//! Typed configuration, parsed once at start-up.
//!
//! Plain settings come from `RISKRELAY_*` environment variables. Secrets (the Graph credential,
//! `clientState`, chat webhook URLs) come from a [`SecretSource`]: the environment when running
//! locally, one JSON secret in AWS Secrets Manager when deployed. Every failure names the variable
//! or secret key and what was expected, and never repeats the value it rejected.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};

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
    // Every secret loaded is held for scrubbing from any text riskrelay logs, stores or posts.
    crate::redact::hold_value(value.expose_secret());
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

pub fn tenant_id(env: &Env) -> Result<TenantId, ConfigError> {
    env.required(
        "RISKRELAY_TENANT_ID",
        "the Entra tenant id, a GUID such as 00000000-0000-0000-0000-000000000000",
        TenantId::parse,
    )
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// An endpoint root: https, or plain http only on a loopback host (local fakes, the simulator).
pub fn endpoint_root(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
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

/// Checks a webhook URL without ever quoting it: https (or http on loopback, for local fakes),
/// with a host.
pub fn check_webhook_url(v: &str) -> Result<(), String> {
    let url = url::Url::parse(v).map_err(|_| "it is not a URL".to_string())?;
    if url.host().is_none() {
        return Err("it has no host".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => Err("it must be an https URL".into()),
    }
}

/// A parser for a whole number of `unit`s (seconds, minutes) within `range`.
fn whole(
    unit: &'static str,
    scale: u64,
    range: std::ops::RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<std::time::Duration, String> {
    move |v| {
        let n: u64 = v
            .parse()
            .map_err(|_| format!("not a whole number of {unit}"))?;
        if range.contains(&n) {
            Ok(std::time::Duration::from_secs(n * scale))
        } else {
            Err(format!("outside {}..={}", range.start(), range.end()))
        }
    }
}

/// A parser for a whole number of seconds within `range`.
pub fn seconds(
    range: std::ops::RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<std::time::Duration, String> {
    whole("seconds", 1, range)
}

/// A parser for a whole number of minutes within `range`.
pub fn minutes(
    range: std::ops::RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<std::time::Duration, String> {
    whole("minutes", 60, range)
}

/// A parser for a whole number within `range`.
pub fn count<T>(range: std::ops::RangeInclusive<T>) -> impl Fn(&str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display,
{
    move |v| match v.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!("outside {}..={}", range.start(), range.end())),
    }
}
