//! The Microsoft Graph client: tokens, a strict request budget, retries, paging.
//!
//! - [`auth`]: access tokens (client secret, certificate, static token).
//! - [`reads`]: the typed reads and writes riskrelay makes.
//! - [`config`]: the client's settings (cloud, endpoints, credential, budget).
//! - [`batch`]: directory context and registration details through `$batch`.
//!
//! Every identity-protection and Conditional Access request sends
//! `Prefer: include-unknown-enum-members`: without it Graph hides newer enum members such as
//! `userChangedPasswordOnPremises` (the remediation this project exists for) and `riskRemediation`
//! behind `unknownFutureValue`.

pub mod analyst;
pub mod auth;
pub mod batch;
pub mod config;
mod error;
mod pages;
pub mod reads;
pub mod workloads;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use url::Url;

use crate::http::RetryPolicy;
use crate::limiter::{Limiter, SharedSlots};
use auth::TokenSource;
use config::GraphConfig;
use error::classify;
pub use error::{Budget, Feature, GraphError, Refused};
pub use pages::Pages;

/// Requests actually sent, per budget (retries included). For tests, logs and the notes.
#[derive(Debug, Default)]
pub struct Counts {
    identity_protection: AtomicU64,
    directory: AtomicU64,
    other: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CountSnapshot {
    pub identity_protection: u64,
    pub directory: u64,
    pub other: u64,
}

impl Counts {
    fn record(&self, budget: Budget) {
        let c = match budget {
            Budget::IdentityProtection => &self.identity_protection,
            Budget::Directory => &self.directory,
            Budget::Other => &self.other,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CountSnapshot {
        CountSnapshot {
            identity_protection: self.identity_protection.load(Ordering::Relaxed),
            directory: self.directory.load(Ordering::Relaxed),
            other: self.other.load(Ordering::Relaxed),
        }
    }
}

/// A response that passed status checks.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self, feature: Feature) -> Result<T, GraphError> {
        serde_json::from_slice(&self.body).map_err(|e| GraphError::Malformed {
            feature,
            detail: e.to_string(),
        })
    }
}

/// Pages followed in one read at most: 2,000 pages of 500 are a million changed users or
/// detections in one poll window, far beyond any tenant's; a longer chain is a broken or hostile
/// answer, and following it would spend the tenant's shared budget for half an hour.
pub const MAX_PAGES: usize = 2_000;

/// Longest wait for a shared slot that is believed. The longest hold anyone sets is a capped
/// `Retry-After` (see [`config::retry_policy`]); a slot further out comes from a skewed clock or
/// a damaged record, and waiting for it would stall the cycle.
const MAX_SHARED_WAIT: Duration = Duration::from_secs(150);

/// Reservations made for one request at most when each comes back too late to use.
const SHARED_ATTEMPTS: usize = 3;

/// Waits for this request's slot in the budget shared with other processes. A slot the store
/// handed back after it had passed (a slow write) is not used: sent late, the request would land
/// next to the following slot's, which another process may hold, so a new one is reserved. If the
/// store cannot say, the local spacing alone holds (Graph's 429s then slow everyone down).
async fn shared_slot(shared: &dyn SharedSlots, interval: Duration) {
    // Late by this much still leaves the full second between arrivals (the spacing's margin).
    let tolerance = interval / 20;
    for _ in 0..SHARED_ATTEMPTS {
        let now = time::OffsetDateTime::now_utc();
        let slot = match shared.reserve(now, interval).await {
            Ok(slot) => slot,
            Err(e) => {
                tracing::warn!(error = %e, "could not reserve a shared identity-protection slot; spacing this process only");
                return;
            }
        };
        let wait = slot - time::OffsetDateTime::now_utc();
        match Duration::try_from(wait) {
            Ok(w) if w <= MAX_SHARED_WAIT => {
                crate::http::sleep_unless_stopped(w).await;
                return;
            }
            Ok(w) => {
                tracing::warn!(
                    wait_seconds = w.as_secs(),
                    "the shared identity-protection slot is implausibly far out; not waiting for it"
                );
                return;
            }
            Err(_) if Duration::try_from(-wait).is_ok_and(|late| late <= tolerance) => return,
            Err(_) => tracing::debug!(
                "the shared identity-protection slot came back too late; reserving another"
            ),
        }
    }
}

/// Added to the identity-protection spacing: Graph measures the gap between arrivals, and two
/// requests sent exactly one second apart can arrive closer than that.
const SPACING_MARGIN: Duration = Duration::from_millis(50);

/// The spacing of identity-protection requests at `rps`: its interval and the margin. Graph's
/// rule is 1 request per second; a faster setting is a simulator's (the demo, tests), where the
/// full margin would cost more than the interval itself, so above 1 rps it shrinks with it.
fn spacing(rps: f64) -> Duration {
    let interval = Duration::from_secs_f64(1.0 / rps);
    interval + SPACING_MARGIN.mul_f64(rps.recip().min(1.0))
}

struct Inner {
    http: reqwest::Client,
    root: Url,
    /// Per request: the HTTP client may be shared with destinations that want another.
    request_timeout: Duration,
    tokens: TokenSource,
    limiter: Limiter,
    /// Holds every directory request back after one was throttled: concurrent `$batch`es share
    /// the directory budget, so a `Retry-After` applies to all of them.
    directory_hold: Limiter,
    batch_concurrency: usize,
    /// The budget other processes of this tenant spend too (the poller and worker functions).
    shared: Option<Arc<dyn SharedSlots>>,
    retry: RetryPolicy,
    counts: Counts,
    registration_gate: batch::FeatureGate,
    outages: batch::Outages,
}

/// Cheap to clone; clones share the limiter, the token cache and the counters.
#[derive(Clone)]
pub struct GraphClient(Arc<Inner>);

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("root", &self.0.root.as_str())
            .field("tokens", &self.0.tokens)
            .field("limiter", &self.0.limiter.interval())
            .finish_non_exhaustive()
    }
}

/// One request to make.
pub(crate) struct Call {
    pub method: Method,
    pub url: Url,
    pub feature: Feature,
    pub body: Option<serde_json::Value>,
    /// A signed-in analyst's delegated token, used instead of the app's own for this request.
    pub as_user: Option<secrecy::SecretString>,
}

impl Call {
    pub fn get(url: Url, feature: Feature) -> Self {
        Self {
            method: Method::GET,
            url,
            feature,
            body: None,
            as_user: None,
        }
    }
}

impl GraphClient {
    pub fn new(config: &GraphConfig) -> Result<Self, GraphError> {
        Self::build(config, crate::http::client(config.request_timeout)?, None)
    }

    /// A client on an HTTP client shared with the rest of the process (one connection pool, one
    /// root-certificate load), whose identity-protection requests also take their slots from
    /// `shared` when given, so that several processes of one tenant stay within its budget.
    pub fn build(
        config: &GraphConfig,
        http: reqwest::Client,
        shared: Option<Arc<dyn SharedSlots>>,
    ) -> Result<Self, GraphError> {
        Ok(Self(Arc::new(Inner {
            tokens: TokenSource::new(config, http.clone())?,
            http,
            root: config.graph_root.clone(),
            request_timeout: config.request_timeout,
            limiter: Limiter::with_interval(spacing(config.identity_protection_rps)),
            directory_hold: Limiter::with_interval(Duration::ZERO),
            batch_concurrency: config.batch_concurrency.max(1),
            shared,
            retry: config.retry.clone(),
            counts: Counts::default(),
            registration_gate: batch::FeatureGate::default(),
            outages: batch::Outages::default(),
        })))
    }

    /// Gets a token (from the cache while fresh): whether the tenant lets the app in at all.
    pub async fn token_check(&self) -> Result<(), GraphError> {
        self.0.tokens.token().await.map(|_| ())
    }

    pub fn counts(&self) -> CountSnapshot {
        self.0.counts.snapshot()
    }

    /// `{root}/{version}/{path}` with a raw query. Callers pass fixed paths and validated ids.
    pub(crate) fn url(&self, version: &str, path: &str, query: Option<&str>) -> Url {
        let mut url = self.0.root.clone();
        url.set_path(&format!("/{version}/{path}"));
        url.set_query(query);
        url
    }

    /// Accepts a next-page link only when it points at the configured Graph root: a response must
    /// not be able to send riskrelay (and its bearer token) anywhere else.
    pub(crate) fn same_root(&self, link: &str, feature: Feature) -> Result<Url, GraphError> {
        let url = Url::parse(link).map_err(|_| GraphError::ForeignNextLink { feature })?;
        let root = &self.0.root;
        let same = url.scheme() == root.scheme()
            && url.host_str() == root.host_str()
            && url.port_or_known_default() == root.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none();
        if same {
            Ok(url)
        } else {
            Err(GraphError::ForeignNextLink { feature })
        }
    }

    /// Sends a request with the budget, retries and error classification. Non-2xx answers other
    /// than 429 and 5xx are returned as errors at once.
    pub(crate) async fn send(&self, call: &Call) -> Result<Reply, GraphError> {
        let inner = &self.0;
        let feature = call.feature;
        let budget = feature.budget();
        let mut attempts = inner.retry.start(format_args!("Graph {feature}"));
        loop {
            // The token first: fetching one must not eat into the spacing the limiter keeps.
            let token = match &call.as_user {
                Some(t) => t.clone(),
                None => inner.tokens.token().await?,
            };
            if budget == Budget::Directory {
                inner.directory_hold.acquire().await;
            }
            if budget == Budget::IdentityProtection {
                inner.limiter.acquire().await;
                if let Some(shared) = &inner.shared {
                    shared_slot(shared.as_ref(), inner.limiter.interval()).await;
                }
            }
            // Waits above end early on a stop; no new request starts after one.
            if crate::http::stopping() {
                return Err(GraphError::Stopping { feature });
            }
            inner.counts.record(budget);
            crate::metrics::global().graph_request(budget.name());
            let mut req = inner
                .http
                .request(call.method.clone(), call.url.clone())
                .timeout(inner.request_timeout)
                .bearer_auth(token.expose_secret())
                .header(http::header::ACCEPT, "application/json");
            if budget == Budget::IdentityProtection {
                req = req.header("Prefer", "include-unknown-enum-members");
            }
            if let Some(body) = &call.body {
                req = req.json(body);
            }
            let (error, retry_after) = match req.send().await {
                Ok(res) => {
                    let status = res.status();
                    let headers = res.headers().clone();
                    if status.is_success() {
                        match res.bytes().await {
                            Ok(body) => {
                                return Ok(Reply {
                                    status,
                                    headers,
                                    body,
                                });
                            }
                            Err(e) => (GraphError::transport(feature, e), None),
                        }
                    } else if status == StatusCode::TOO_MANY_REQUESTS {
                        (
                            GraphError::Throttled { feature },
                            crate::http::retry_after(&headers),
                        )
                    } else if status.is_server_error() {
                        (
                            GraphError::Server {
                                feature,
                                status: status.as_u16(),
                            },
                            None,
                        )
                    } else {
                        let body = res.bytes().await.unwrap_or_default();
                        return Err(classify(feature, status, &body));
                    }
                }
                Err(e) => (GraphError::transport(feature, e), None),
            };
            let throttled = matches!(error, GraphError::Throttled { .. });
            if throttled {
                crate::metrics::global().graph_throttled(budget.name());
            }
            let Some(delay) = attempts.next_delay(retry_after) else {
                attempts.give_up(&error);
                return Err(error);
            };
            if throttled && budget == Budget::Directory {
                inner.directory_hold.pause(delay).await;
            }
            if throttled && budget == Budget::IdentityProtection {
                // Another app may be spending the tenant's shared budget: slow every
                // identity-protection caller down, not only this one.
                inner.limiter.pause(delay).await;
                if let Some(shared) = &inner.shared
                    && let Err(e) = shared.hold(time::OffsetDateTime::now_utc() + delay).await
                {
                    tracing::warn!(error = %e, "could not hold the other processes back after a 429");
                }
            }
            if !attempts.wait(delay, &error).await {
                return Err(error);
            }
        }
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        feature: Feature,
    ) -> Result<T, GraphError> {
        self.send(&Call::get(url, feature)).await?.json(feature)
    }

    /// Follows `@odata.nextLink` to the end and returns every item that parses. An item that does
    /// not (a missing id, say) is skipped with a warning rather than failing the whole read: one
    /// odd record must not stop every later alert.
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        first: Url,
        feature: Feature,
    ) -> Result<Vec<T>, GraphError> {
        self.pages(first, feature).all().await
    }

    /// The pages of a list read, one at a time (see [`Pages`]).
    pub(crate) fn pages<T: DeserializeOwned>(&self, first: Url, feature: Feature) -> Pages<T> {
        Pages {
            graph: self.clone(),
            feature,
            next: Some(first),
            seen: std::collections::HashSet::new(),
            _items: std::marker::PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_spacing_keeps_its_margin_at_graphs_rate_and_shrinks_it_for_a_simulator() {
        assert_eq!(spacing(1.0), Duration::from_millis(1050));
        assert_eq!(spacing(0.5), Duration::from_millis(2050));
        // 50 rps (the demo's simulator): 20 ms and a 1 ms margin, not 50.
        assert_eq!(spacing(50.0), Duration::from_millis(21));
    }
    use super::*;

    /// Shared slots whose first reservation comes back 300 ms after the slot it hands out (a
    /// slow store write); the next ones come back at once, one interval further each.
    struct SlowFirst(std::sync::Mutex<Vec<time::OffsetDateTime>>);

    #[async_trait::async_trait]
    impl crate::limiter::SharedSlots for SlowFirst {
        async fn reserve(
            &self,
            earliest: time::OffsetDateTime,
            interval: Duration,
        ) -> Result<time::OffsetDateTime, crate::limiter::SlotsError> {
            let first = self.0.lock().unwrap().is_empty();
            let slot = match self.0.lock().unwrap().last() {
                Some(last) => (*last + interval).max(earliest),
                None => earliest,
            };
            self.0.lock().unwrap().push(slot);
            if first {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Ok(slot)
        }
        async fn hold(&self, _: time::OffsetDateTime) -> Result<(), crate::limiter::SlotsError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_shared_slot_handed_back_after_it_passed_is_not_used() {
        let slots = SlowFirst(std::sync::Mutex::new(Vec::new()));
        let interval = Duration::from_millis(400);
        shared_slot(&slots, interval).await;
        let sent = time::OffsetDateTime::now_utc();
        let reserved = slots.0.lock().unwrap().clone();
        assert_eq!(
            reserved.len(),
            2,
            "the late slot was given up: {reserved:?}"
        );
        assert!(
            sent >= reserved[1],
            "sent at the second slot, not the first"
        );
    }

    #[test]
    fn a_tenant_refusing_the_app_is_told_apart_from_a_broken_deployment() {
        use crate::tenancy::Refusal;
        let f = Feature::RiskyUsers;
        let tenant = |r| Some(Refused::Tenant(r));
        assert_eq!(
            classify(f, StatusCode::UNAUTHORIZED, b"{}").refusal(),
            tenant(Refusal::Consent)
        );
        let forbidden = |code: &str| {
            classify(f, StatusCode::FORBIDDEN, format!(r#"{{"error":{{"code":"{code}","message":"Your tenant is not licensed for this feature."}}}}"#).as_bytes())
        };
        // By code, not by text: the same words under a permission code are a permission.
        assert_eq!(
            forbidden("Authentication_RequestFromNonPremiumTenantOrB2CTenant").refusal(),
            tenant(Refusal::Licence)
        );
        assert_eq!(forbidden("NoLicense").refusal(), tenant(Refusal::Licence));
        assert_eq!(
            forbidden("Authorization_RequestDenied").refusal(),
            tenant(Refusal::Permission)
        );
        assert_eq!(forbidden("Forbidden").refusal(), tenant(Refusal::Forbidden));
        assert!(forbidden("NoLicense").to_string().contains("Entra ID P2"));
        assert_eq!(
            classify(f, StatusCode::FORBIDDEN, b"not json").refusal(),
            tenant(Refusal::Forbidden)
        );
        for (text, r) in [
            (
                "unauthorized_client: AADSTS700016: Application with identifier 'x' was not found in the directory 'y'",
                tenant(Refusal::Consent),
            ),
            (
                "AADSTS7000112: Application is disabled.",
                tenant(Refusal::Consent),
            ),
            (
                "AADSTS90002: Tenant 'x' not found.",
                tenant(Refusal::TenantNotFound),
            ),
            (
                "AADSTS53003: Access has been blocked by Conditional Access policies.",
                tenant(Refusal::ConditionalAccess),
            ),
            (
                "AADSTS500011: The resource principal named https://graph.microsoft.us was not found in the tenant",
                Some(Refused::Deployment),
            ),
            // A wrong client secret is the deployment's fault, the same for every tenant, and
            // not a refusal by any tenant.
            (
                "invalid_client: AADSTS7000215: Invalid client secret provided.",
                None,
            ),
        ] {
            assert_eq!(GraphError::Auth(text.into()).refusal(), r, "{text}");
        }
        assert_eq!(GraphError::Throttled { feature: f }.refusal(), None);
        assert_eq!(GraphError::Timeout { feature: f }.refusal(), None);
    }

    #[test]
    fn errors_name_the_permission_and_classify_retries() {
        let e = GraphError::Forbidden {
            feature: Feature::Registration,
            code: "Authorization_RequestDenied".into(),
        };
        assert_eq!(
            e.to_string(),
            "Graph refused MFA and SSPR registration in alerts (403 Authorization_RequestDenied): the app needs the AuditLog.Read.All permission"
        );
        assert!(!e.is_retryable());
        assert!(
            GraphError::Throttled {
                feature: Feature::RiskyUsers
            }
            .is_retryable()
        );
        assert!(
            GraphError::Timeout {
                feature: Feature::RiskyUsers
            }
            .is_retryable()
        );
        assert!(
            !GraphError::Malformed {
                feature: Feature::RiskyUsers,
                detail: String::new()
            }
            .is_retryable()
        );
        let e = classify(Feature::PolicyWrite, StatusCode::BAD_REQUEST, br#"{"error":{"code":"BadRequest","message":"Resource not found for the segment 'policy'."}}"#);
        assert_eq!(e.status(), Some(400));
        assert!(e.to_string().contains("BadRequest"));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;
        use secrecy::SecretString;

        fn client() -> GraphClient {
            let root = url::Url::parse("https://graph.microsoft.com").unwrap();
            GraphClient::new(&GraphConfig {
                tenant_id: crate::ids::TenantId::parse("11111111-2222-3333-4444-555555555555")
                    .unwrap(),
                authority_host: root.clone(),
                graph_root: root,
                credential: config::GraphCredential::AccessToken(SecretString::from("t")),
                identity_protection_rps: 1.0,
                request_timeout: Duration::from_secs(1),
                retry: config::retry_policy(1),
                batch_concurrency: 1,
                admin_center: Default::default(),
            })
            .unwrap()
        }

        proptest! {
            #[test]
            fn a_next_link_is_followed_only_on_the_configured_root(link in any::<String>()) {
                if let Ok(url) = client().same_root(&link, Feature::RiskyUsers) {
                    prop_assert_eq!(url.scheme(), "https");
                    prop_assert_eq!(url.host_str(), Some("graph.microsoft.com"));
                    prop_assert_eq!(url.port_or_known_default(), Some(443));
                    prop_assert!(url.username().is_empty() && url.password().is_none());
                }
            }

            #[test]
            fn a_mutated_next_link_never_leaves_the_root(
                prefix in prop::sample::select(vec![
                    "https://graph.microsoft.com",
                    "https://graph.microsoft.com.evil.example",
                    "https://evil.example",
                    "http://graph.microsoft.com",
                    "https://graph.microsoft.com:8443",
                    "https://user:pw@graph.microsoft.com",
                    "https://graph.microsoft.com@evil.example",
                    "//evil.example",
                    "https:/\\evil.example",
                ]),
                rest in "[a-zA-Z0-9/?=&$%._-]{0,40}",
            ) {
                let link = format!("{prefix}/v1.0/{rest}");
                let ok = client().same_root(&link, Feature::RiskyUsers).is_ok();
                prop_assert_eq!(ok, prefix == "https://graph.microsoft.com", "{}", link);
            }
        }
    }
}
