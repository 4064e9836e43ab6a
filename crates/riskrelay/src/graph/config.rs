//! The Graph client's settings: the cloud, endpoints, credential and request budget.

use std::time::Duration;

use secrecy::SecretString;

use crate::alert::AdminCenter;
use crate::config::{
    ConfigError, Env, SecretSource, count, endpoint_root, optional_secret, seconds, tenant_id,
};
use crate::http::RetryPolicy;
use crate::ids::TenantId;

/// The national clouds riskrelay supports (risk APIs are not offered in the China cloud).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Global,
    UsGov,
    UsGovDod,
}

impl std::str::FromStr for Cloud {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "global" | "public" => Ok(Self::Global),
            "usgov" | "gcchigh" => Ok(Self::UsGov),
            "dod" | "usgovdod" => Ok(Self::UsGovDod),
            _ => Err("not a supported cloud".into()),
        }
    }
}

impl Cloud {
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

impl Cloud {
    /// `RISKRELAY_CLOUD`.
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        env.or(
            "RISKRELAY_CLOUD",
            "global, usgov or dod",
            Self::Global,
            str::parse,
        )
    }

    /// Where administrators of this cloud manage users (GCC High and DoD share one).
    pub fn admin_center(self) -> AdminCenter {
        match self {
            Self::Global => AdminCenter::Global,
            Self::UsGov | Self::UsGovDod => AdminCenter::UsGov,
        }
    }
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

/// Whole-request timeout for Graph unless `RISKRELAY_GRAPH_TIMEOUT_SECONDS` says otherwise: a page
/// of 500 risky users comes back in well under a second; 30 s only cuts off a hung connection.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Graph's retries: backoff from 1 s doubling to 30 s, at most two minutes on one request (a
/// `Retry-After` longer than that fails the request; the next cycle tries again).
pub fn retry_policy(max_attempts: u32) -> RetryPolicy {
    let budget = Duration::from_secs(120);
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(30),
        budget,
        max_retry_after: budget,
    }
}

/// The cloud's token authority and Graph root, or `RISKRELAY_AUTHORITY_HOST` and
/// `RISKRELAY_GRAPH_ROOT` when set.
fn endpoints(env: &Env, cloud: Cloud) -> Result<(url::Url, url::Url), ConfigError> {
    let (authority, root) = cloud.defaults();
    Ok((
        env.or(
            "RISKRELAY_AUTHORITY_HOST",
            "an https URL such as https://login.microsoftonline.com",
            endpoint_root(authority)
                .map_err(|e| ConfigError::invalid("RISKRELAY_CLOUD", "a cloud", e))?,
            endpoint_root,
        )?,
        env.or(
            "RISKRELAY_GRAPH_ROOT",
            "an https URL such as https://graph.microsoft.com",
            endpoint_root(root)
                .map_err(|e| ConfigError::invalid("RISKRELAY_CLOUD", "a cloud", e))?,
            endpoint_root,
        )?,
    ))
}

/// A redirect URI: https (or http on loopback), a host, no fragment.
fn redirect_uri(v: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(v).map_err(|e| format!("not a URL: {e}"))?;
    endpoint_root(&url.origin().ascii_serialization())?;
    if url.fragment().is_some() || url.query().is_some() {
        return Err("it must not carry a query or fragment".into());
    }
    Ok(url)
}

/// What a tenant's admin-consent URL is built from (`riskrelay tenants add`): no secret needed.
#[derive(Debug, Clone)]
pub struct ConsentLink {
    pub authority_host: url::Url,
    pub graph_root: url::Url,
    pub client_id: uuid::Uuid,
    pub redirect: url::Url,
}

impl ConsentLink {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        let cloud = Cloud::load(env)?;
        let (authority_host, graph_root) = endpoints(env, cloud)?;
        let client_id = env.required(
            "RISKRELAY_CLIENT_ID",
            "the multi-tenant app registration's application (client) id, a GUID",
            crate::ids::parse_guid,
        )?;
        let expected = "an https URL registered as a redirect URI of the app (by default RISKRELAY_PUBLIC_URL/consent, which riskrelay run answers)";
        let redirect = match env.get("RISKRELAY_CONSENT_REDIRECT_URI") {
            Some(_) => env.required("RISKRELAY_CONSENT_REDIRECT_URI", expected, redirect_uri)?,
            None => {
                let public =
                    env.get("RISKRELAY_PUBLIC_URL")
                        .ok_or_else(|| ConfigError::Missing {
                            var: "RISKRELAY_CONSENT_REDIRECT_URI (or RISKRELAY_PUBLIC_URL)".into(),
                            expected: expected.into(),
                        })?;
                let mut root = redirect_uri(public)
                    .map_err(|e| ConfigError::invalid("RISKRELAY_PUBLIC_URL", expected, e))?;
                if !root.path().ends_with('/') {
                    root.set_path(&format!("{}/", root.path()));
                }
                root.join("consent").map_err(|e| {
                    ConfigError::invalid("RISKRELAY_PUBLIC_URL", expected, e.to_string())
                })?
            }
        };
        Ok(Self {
            authority_host,
            graph_root,
            client_id,
            redirect,
        })
    }

    pub fn url(&self, tenant: TenantId) -> url::Url {
        crate::tenancy::consent_url(
            &self.authority_host,
            tenant,
            self.client_id,
            &self.graph_root,
            &self.redirect,
        )
    }
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
    /// Retries of one request after 429, 5xx and timeouts.
    pub retry: RetryPolicy,
    /// Directory `$batch` requests in flight at once (see [`DEFAULT_BATCH_CONCURRENCY`]).
    pub batch_concurrency: usize,
    /// The cloud's Entra admin center, for the links in alerts.
    pub admin_center: AdminCenter,
}

/// `$batch` requests in flight at once, per kind of read. Directory reads are limited per app and
/// tenant (riskrelay's own budget, not shared with other apps) to 8,000 resource units per 10
/// seconds in a tenant of more than 500 users; a read of one user by id with `$select` and
/// `$expand` costs one unit. Four `$batch`es of 20 users answering in 100 ms, Graph's fastest,
/// read 800 users a second: the large-tenant budget and no more. A smaller tenant (at most 500
/// users, 3,500–5,000 units per 10 s) cannot spend its budget in one cycle. Inner 429s and their
/// `Retry-After` slow the reads down if Graph disagrees.
pub const DEFAULT_BATCH_CONCURRENCY: usize = 4;

impl GraphConfig {
    pub fn load(env: &Env, secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        let cloud = Cloud::load(env)?;
        let credential = Self::credential(env, secrets)?;
        let (authority_host, graph_root) = endpoints(env, cloud)?;
        Ok(Self {
            tenant_id: tenant_id(env)?,
            authority_host,
            graph_root,
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
                DEFAULT_REQUEST_TIMEOUT,
                seconds(1..=300),
            )?,
            retry: retry_policy(env.or(
                "RISKRELAY_GRAPH_MAX_ATTEMPTS",
                "a whole number from 1 to 10",
                5,
                count(1..=10),
            )?),
            batch_concurrency: env.or(
                "RISKRELAY_GRAPH_BATCH_CONCURRENCY",
                "a whole number from 1 to 16",
                DEFAULT_BATCH_CONCURRENCY,
                count(1..=16),
            )?,
            admin_center: cloud.admin_center(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnvSecrets;

    const TENANT: &str = "11111111-2222-3333-4444-555555555555";

    fn env() -> Env {
        Env::default().with("RISKRELAY_TENANT_ID", TENANT)
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
        assert_eq!(c.admin_center, AdminCenter::Global);
        assert!(!format!("{c:?}").contains("graph-secret-value"));

        let e = graph_env().with("RISKRELAY_CLOUD", "dod");
        let c = GraphConfig::load(&e, &EnvSecrets(&e)).unwrap();
        assert_eq!(c.graph_root.as_str(), "https://dod-graph.microsoft.us/");
        assert_eq!(c.admin_center, AdminCenter::UsGov);
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
}
