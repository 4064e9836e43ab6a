//! The Graph webhook: one HTTP application behind both the Lambda Function URL and the local
//! server (`riskrelay serve` / `run`).
//!
//! It only verifies and enqueues. Graph wants the validation echo within 10 s and notifications
//! acknowledged well under 3 s, and marks slow endpoints "drop"; so no Graph call and no chat post
//! happens on this path, and the one store read (the subscription ids riskrelay created, see
//! [`KnownSubscriptions`]) is cached.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use time::OffsetDateTime;

use crate::api_error::{ApiError, MAX_BODY_BYTES};
use crate::client_state::ClientStates;
use crate::clock::Clock;
use crate::config::{ConfigError, Env, SecretSource, tenant_id};
use crate::ids::TenantId;
use crate::notification::{ItemKind, ResourceTarget, UnsupportedTarget, Unverified, Verified};
use crate::observation::{LifecycleEvent, Observation, Origin, Subject, WorkItem};
use crate::queue::Queue;
use crate::source::subscriptions::KnownSubscriptions;

/// Most items accepted in one POST (Graph documents no maximum; this bounds the work per request).
pub const MAX_ITEMS: usize = 1000;
/// Longest validation token echoed. Graph's tokens are short opaque strings.
pub const MAX_VALIDATION_TOKEN_BYTES: usize = 4096;

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

/// A plain-text answer that no browser sniffs into anything else.
pub(crate) fn text_response(status: StatusCode, body: Bytes) -> Response<Bytes> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // Belt and braces: the echoed token is attacker-chosen text.
    res.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[async_trait::async_trait]
impl crate::server::HttpApp for Webhook {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        Webhook::handle(self, req).await
    }
}

/// What one notification POST amounted to, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub accepted: usize,
    pub rejected: usize,
    pub ignored: usize,
    /// Items rejected or ignored, by reason (fixed text, never the item's own).
    pub reasons: std::collections::BTreeMap<&'static str, usize>,
    /// One rejected or ignored item described, when the log budget allows (see [`DETAIL`]).
    pub example: Option<String>,
}

impl Tally {
    fn turned_away(
        &mut self,
        rejected: bool,
        reason: &'static str,
        detail: impl FnOnce() -> String,
    ) {
        if rejected {
            self.rejected += 1;
        } else {
            self.ignored += 1;
        }
        *self.reasons.entry(reason).or_default() += 1;
        if self.example.is_none() && DETAIL.allow().is_some() {
            self.example = Some(detail());
        }
    }
}

/// Items turned away are summed up in one line per request; one of them is described in that
/// line at most this often. Without a bound, one request of 1,000 forged items wrote 1,000 lines
/// (12.5 MB sent made 741 MB of log in 5 s), and no secret is needed to send one.
static DETAIL: crate::telemetry::LogBudget =
    crate::telemetry::LogBudget::new(6, std::time::Duration::from_secs(60));

/// The queue refusing work (it is full, or gone) is said at most this often, with a count: each
/// refusal answers 503 to Graph, which retries, so the same cause repeats for every request.
static QUEUE_REFUSED: crate::telemetry::LogBudget =
    crate::telemetry::LogBudget::new(1, std::time::Duration::from_secs(60));

/// Which tenants the webhook takes notifications for, and how it verifies each.
#[derive(Clone)]
pub enum Tenants {
    /// One tenant and its configured `clientState`.
    One(WebhookConfig),
    /// Every registered tenant, each with the `clientState` derived for it.
    Registry(Arc<RegisteredTenants>),
}

/// The registered tenants as the webhook sees them: the registry re-read at most once a minute
/// (a tenant just added waits that long for its notifications to be taken; Graph retries for
/// hours), each tenant's `clientState` derived from the deployment's, and each tenant's known
/// subscriptions.
pub struct RegisteredTenants {
    client_states: ClientStates,
    store: Arc<dyn crate::store::Store>,
    cache: tokio::sync::Mutex<Option<(std::collections::BTreeSet<TenantId>, std::time::Instant)>>,
    known: std::sync::Mutex<std::collections::HashMap<TenantId, Arc<KnownSubscriptions>>>,
}

/// How long the webhook trusts its copy of the registry.
const REGISTRY_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl RegisteredTenants {
    pub fn new(client_states: ClientStates, store: Arc<dyn crate::store::Store>) -> Self {
        Self {
            client_states,
            store,
            cache: Default::default(),
            known: Default::default(),
        }
    }

    /// The tenant's `clientState` and known subscriptions, if it is registered.
    async fn resolve(&self, tenant: TenantId) -> Option<(ClientStates, Arc<KnownSubscriptions>)> {
        let registered = {
            let mut cache = self.cache.lock().await;
            let stale = cache
                .as_ref()
                .is_none_or(|(_, at)| at.elapsed() >= REGISTRY_TTL);
            if stale {
                match crate::store::registry::load(self.store.as_ref()).await {
                    Ok(r) => {
                        *cache = Some((r.tenants.into_keys().collect(), std::time::Instant::now()));
                    }
                    Err(e) => {
                        tracing::warn!(
                            error = format!("{e:#}"),
                            "could not read the tenant registry"
                        )
                    }
                }
            }
            cache.as_ref().is_some_and(|(ids, _)| ids.contains(&tenant))
        };
        if !registered {
            return None;
        }
        let known = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant)
            .or_insert_with(|| Arc::new(KnownSubscriptions::new(tenant, self.store.clone())))
            .clone();
        Some((self.client_states.for_tenant(tenant), known))
    }
}

pub struct Webhook {
    tenants: Tenants,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    known: Option<Arc<KnownSubscriptions>>,
}

impl Webhook {
    pub fn new(config: &WebhookConfig, queue: Arc<dyn Queue>) -> Self {
        Self::for_tenants(Tenants::One(config.clone()), queue)
    }

    /// The webhook of a service: for one tenant, notifications only from the subscriptions its
    /// upkeep created; for the registry, from each tenant's.
    pub fn for_tenants(tenants: Tenants, queue: Arc<dyn Queue>) -> Self {
        Self {
            tenants,
            queue,
            clock: crate::clock::system(),
            known: None,
        }
    }

    /// With the known subscriptions of the one tenant read from `store` (the registry's tenants
    /// always have theirs).
    pub fn knowing(self, store: Arc<dyn crate::store::Store>) -> Self {
        let known = match &self.tenants {
            Tenants::One(c) => Some(Arc::new(KnownSubscriptions::new(c.tenant_id, store))),
            Tenants::Registry(_) => None,
        };
        match known {
            Some(k) => self.with_known_subscriptions(k),
            None => self,
        }
    }

    /// Accepts notifications only from the subscriptions upkeep created. Without it (`serve`,
    /// `replay`) the `clientState` alone authenticates.
    pub fn with_known_subscriptions(mut self, known: Arc<KnownSubscriptions>) -> Self {
        self.known = Some(known);
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        match self.route(req).await {
            Ok(res) => res,
            Err(e) => e.into_response(),
        }
    }

    async fn route(&self, req: Request<Bytes>) -> Result<Response<Bytes>, ApiError> {
        let path = req.uri().path();
        match path {
            "/healthz" if req.method() == Method::GET || req.method() == Method::HEAD => {
                Ok(text_response(StatusCode::OK, Bytes::from_static(b"ok")))
            }
            "/healthz" => Err(ApiError::MethodNotAllowed),
            "/notifications" | "/lifecycle" if req.method() == Method::POST => {
                self.notifications(req).await
            }
            "/notifications" | "/lifecycle" => Err(ApiError::MethodNotAllowed),
            _ => Err(ApiError::NotFound),
        }
    }

    #[tracing::instrument(skip_all, fields(path = %req.uri().path()))]
    async fn notifications(&self, req: Request<Bytes>) -> Result<Response<Bytes>, ApiError> {
        if req.body().len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        if let Some(token) = validation_token(req.uri().query())? {
            // The handshake answers only the echo; a body sent alongside is ignored, never acted on.
            tracing::info!("answered a subscription validation request");
            return Ok(text_response(StatusCode::OK, Bytes::from(token)));
        }
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let outcome = self.accept(req.body()).await?;
        // One line per request, whatever it held.
        let reasons = (!outcome.reasons.is_empty()).then(|| {
            outcome
                .reasons
                .iter()
                .map(|(reason, n)| format!("{reason}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        });
        if outcome.rejected > 0 {
            tracing::warn!(
                accepted = outcome.accepted,
                rejected = outcome.rejected,
                ignored = outcome.ignored,
                reasons = reasons.as_deref(),
                example = outcome.example.as_deref(),
                "notifications handled; some were rejected"
            );
        } else {
            tracing::info!(
                accepted = outcome.accepted,
                ignored = outcome.ignored,
                reasons = reasons.as_deref(),
                example = outcome.example.as_deref(),
                "notifications handled"
            );
        }
        let mut res = Response::new(Bytes::new());
        *res.status_mut() = StatusCode::ACCEPTED;
        Ok(res)
    }

    /// Parses, authenticates and enqueues a notification collection.
    pub async fn accept(&self, body: &[u8]) -> Result<Tally, ApiError> {
        // serde_json stops at 128 levels of nesting, so a deeply nested body is a parse error,
        // not a stack overflow.
        let doc: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| ApiError::BadRequest)?;
        let items = doc
            .get("value")
            .and_then(|v| v.as_array())
            .ok_or(ApiError::BadRequest)?;
        if items.len() > MAX_ITEMS {
            return Err(ApiError::PayloadTooLarge);
        }
        let now = self.clock.now();
        let mut outcome = Tally::default();
        let mut work = Vec::new();
        for (index, raw) in items.iter().enumerate() {
            let item = match Unverified::parse(raw) {
                Ok(item) => item,
                Err(reason) => {
                    outcome.turned_away(true, reason.name(), || format!("item {index}: {reason}"));
                    continue;
                }
            };
            let subscription_id = item.subscription_id;
            let (states, tenant, known) = match &self.tenants {
                Tenants::One(c) => (c.client_states.clone(), c.tenant_id, self.known.clone()),
                Tenants::Registry(r) => {
                    // The claimed tenant picks the key; a claim for a tenant that is not
                    // registered, or signed with another tenant's value, fails below.
                    match item.tenant_id {
                        Some(t) => match r.resolve(t).await {
                            Some((states, known)) => (states, t, Some(known)),
                            None => {
                                outcome.turned_away(true, "tenant not registered", || {
                                    format!("subscription {subscription_id}: tenant {t} is not registered")
                                });
                                continue;
                            }
                        },
                        None => {
                            outcome.turned_away(true, "no tenant", || {
                                format!("subscription {subscription_id}: no tenant named")
                            });
                            continue;
                        }
                    }
                }
            };
            let item = match item.verify(&states, &tenant) {
                Ok(item) => item,
                Err(reason) => {
                    outcome.turned_away(true, reason.name(), || {
                        format!("subscription {subscription_id}: {reason}")
                    });
                    continue;
                }
            };
            if let Some(known) = &known
                && !known.admits(subscription_id, now).await
            {
                outcome.turned_away(true, "subscription not riskrelay's", || {
                    format!("subscription {subscription_id}: riskrelay did not create it")
                });
                continue;
            }
            match into_work(item, now) {
                Ok(w) => {
                    outcome.accepted += 1;
                    work.push(w);
                }
                Err(reason) => outcome.turned_away(false, reason.name(), || {
                    format!("subscription {subscription_id}: {reason}")
                }),
            }
        }
        if !work.is_empty() {
            self.queue.enqueue(work).await.map_err(|e| {
                if let Some(held) = QUEUE_REFUSED.allow() {
                    tracing::error!(error = %e, refused_since_last_line = held, "could not enqueue notifications; answering 503 so Graph retries");
                }
                ApiError::QueueUnavailable
            })?;
        }
        Ok(outcome)
    }
}

/// Turns an authenticated item into queue work, or says why it is acknowledged and ignored.
fn into_work(item: Verified, now: OffsetDateTime) -> Result<WorkItem, UnsupportedTarget> {
    let subscription_id = item.subscription_id;
    match item.kind {
        ItemKind::Lifecycle(event) => Ok(WorkItem::Lifecycle(LifecycleEvent {
            tenant_id: item.tenant_id,
            subscription_id,
            event,
            subscription_expires: item.subscription_expires,
            received_at: now,
        })),
        ItemKind::Change {
            change_type,
            target,
        } => {
            let subject = match target? {
                ResourceTarget::RiskyUser(user_id) => Subject::RiskyUser { user_id },
                ResourceTarget::User(user_id) => Subject::User { user_id },
                ResourceTarget::SecurityAlert(alert_id) => Subject::SecurityAlert { alert_id },
            };
            Ok(WorkItem::Observation(Observation {
                tenant_id: item.tenant_id,
                subject,
                origin: Origin::Webhook {
                    subscription_id,
                    change_type,
                },
                observed_at: now,
                fetched: None,
            }))
        }
    }
}

/// The URL-decoded `validationToken`, if the query has one. Graph form-encodes the token (spaces
/// as `+`), so it is decoded the same way.
fn validation_token(query: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(query) = query else { return Ok(None) };
    let Some((_, token)) =
        form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "validationToken")
    else {
        return Ok(None);
    };
    if token.is_empty() || token.len() > MAX_VALIDATION_TOKEN_BYTES {
        return Err(ApiError::BadValidationToken);
    }
    Ok(Some(token.into_owned()))
}

/// Graph sends `application/json` (possibly with a charset). A request without a content type is
/// given the benefit of the doubt; anything else is refused.
fn is_json(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value else { return true };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case("application/json")
}

/// Converts a Lambda Function URL request into the application's request type. lambda_http has
/// already base64-decoded a binary body and put the raw query string into the URI.
pub fn from_lambda(req: lambda_http::Request) -> Request<Bytes> {
    let (parts, body) = req.into_parts();
    let body = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    Request::from_parts(parts, body)
}

/// Converts the application's response into a Lambda Function URL response.
pub fn to_lambda(res: Response<Bytes>) -> Response<lambda_http::Body> {
    res.map(|b| {
        if b.is_empty() {
            lambda_http::Body::Empty
        } else {
            match String::from_utf8(b.to_vec()) {
                Ok(s) => lambda_http::Body::Text(s),
                Err(e) => lambda_http::Body::Binary(e.into_bytes()),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnvSecrets;

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

    #[test]
    fn validation_token_decoding() {
        assert_eq!(validation_token(None), Ok(None));
        assert_eq!(validation_token(Some("a=b")), Ok(None));
        assert_eq!(
            validation_token(Some("validationToken=Validation%3a+Testing+%3Cb%3E%2B%25")),
            Ok(Some("Validation: Testing <b>+%".into()))
        );
        assert_eq!(
            validation_token(Some("validationToken=")),
            Err(ApiError::BadValidationToken)
        );
        let long = format!(
            "validationToken={}",
            "a".repeat(MAX_VALIDATION_TOKEN_BYTES + 1)
        );
        assert_eq!(
            validation_token(Some(&long)),
            Err(ApiError::BadValidationToken)
        );
    }

    #[test]
    fn content_types() {
        assert!(is_json(None));
        assert!(is_json(Some(&HeaderValue::from_static("application/json"))));
        assert!(is_json(Some(&HeaderValue::from_static(
            "Application/JSON; charset=utf-8"
        ))));
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
            "text/html",
        ] {
            assert!(!is_json(Some(&HeaderValue::from_static(bad))), "{bad}");
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_query_gives_a_bounded_non_empty_token_or_an_error(q in any::<String>()) {
                match validation_token(Some(&q)) {
                    Ok(Some(t)) => prop_assert!(!t.is_empty() && t.len() <= MAX_VALIDATION_TOKEN_BYTES),
                    Ok(None) | Err(ApiError::BadValidationToken) => {}
                    Err(other) => prop_assert!(false, "unexpected {other:?}"),
                }
            }

            #[test]
            fn any_body_is_answered_without_panicking(body in prop::collection::vec(any::<u8>(), 0..512)) {
                let (queue, _rx) = crate::queue::memory::MemoryQueue::new();
                let env = crate::config::Env::default().with("RISKRELAY_CLIENT_STATE", "state");
                let config = WebhookConfig {
                    tenant_id: TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap(),
                    client_states: ClientStates::load(&crate::config::EnvSecrets(&env)).unwrap(),
                };
                let hook = Webhook::new(&config, Arc::new(queue));
                let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                if let Ok(tally) = rt.block_on(hook.accept(&body)) {
                    prop_assert_eq!(tally.accepted, 0, "no item can carry the right clientState by chance");
                }
            }
        }
    }
}
