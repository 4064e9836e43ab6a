//! The simulator's HTTP routes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::filter::Filter;
use super::{FaultReply, Recorded, SimSubscription, State};
use crate::ids::{SubscriptionId, UserId};
use crate::server::HttpApp;

/// `riskDetail` members Graph only returns with `Prefer: include-unknown-enum-members`.
const EVOLVABLE_RISK_DETAILS: &[&str] = &[
    "adminConfirmedServicePrincipalCompromised",
    "adminDismissedAllRiskForServicePrincipal",
    "m365DAdminDismissedDetection",
    "userChangedPasswordOnPremises",
    "adminDismissedRiskForSignIn",
    "adminConfirmedAccountSafe",
    "aiElevatedAccountRisk",
];

/// Graph's longest subscription lifetime for directory resources: 41,760 minutes.
const MAX_USER_SUBSCRIPTION_MINUTES: i64 = 41_760;
/// For security alerts: 43,200 minutes.
const MAX_ALERT_SUBSCRIPTION_MINUTES: i64 = 43_200;

pub struct SimApp {
    state: Arc<Mutex<State>>,
}

struct Ctx {
    method: Method,
    path: String,
    query: HashMap<String, String>,
    raw_query: Option<String>,
    prefer: bool,
    body: Bytes,
    inner: bool,
}

fn reply(status: StatusCode, body: Value) -> Response<Bytes> {
    let mut res = Response::new(Bytes::from(body.to_string()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Bytes> {
    reply(
        status,
        json!({"error": {"code": code, "message": message, "innerError": {"request-id": uuid::Uuid::new_v4().to_string()}}}),
    )
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

impl SimApp {
    pub(super) fn new(state: Arc<Mutex<State>>) -> Self {
        Self { state }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn base(&self, req_host: &str) -> String {
        format!("http://{req_host}")
    }

    /// Applies the first matching scripted fault, if any.
    async fn fault(&self, ctx: &Ctx) -> Option<Response<Bytes>> {
        let reply_kind = {
            let mut s = self.lock();
            let i = s.faults.iter().position(|f| {
                f.times > 0
                    && ctx.path.contains(&f.path_contains)
                    && f.method
                        .as_deref()
                        .is_none_or(|m| m.eq_ignore_ascii_case(ctx.method.as_str()))
            })?;
            s.faults[i].times -= 1;
            let r = s.faults[i].reply.clone();
            if s.faults[i].times == 0 {
                s.faults.remove(i);
            }
            r
        };
        match reply_kind {
            FaultReply::Status {
                status,
                retry_after,
                body,
            } => {
                let mut res = Response::new(Bytes::from(body));
                *res.status_mut() =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                if let Some(secs) = retry_after {
                    res.headers_mut()
                        .insert(header::RETRY_AFTER, http::HeaderValue::from(secs));
                }
                Some(res)
            }
            FaultReply::Delay(d) => {
                tokio::time::sleep(d).await;
                None
            }
            FaultReply::Malformed => {
                let mut res = Response::new(Bytes::from_static(b"{\"value\": [ this is not json"));
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                Some(res)
            }
        }
    }

    fn record(&self, ctx: &Ctx, status: u16) {
        let body = serde_json::from_slice(&ctx.body).ok();
        self.lock().requests.push(Recorded {
            method: ctx.method.to_string(),
            path: ctx.path.clone(),
            query: ctx.raw_query.clone(),
            prefer_unknown_enums: ctx.prefer,
            body,
            inner: ctx.inner,
            status,
        });
    }

    async fn token(&self, tenant: &str, body: &[u8]) -> Response<Bytes> {
        let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        let s = self.lock().config.clone();
        let invalid_client = |desc: &str| {
            reply(
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_client", "error_description": desc, "error_codes": [7000215], "trace_id": uuid::Uuid::new_v4().to_string()}),
            )
        };
        if tenant != s.tenant_id.to_string() {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found.", "error_codes": [90002]}),
            );
        }
        if form.get("grant_type").map(String::as_str) != Some("client_credentials")
            || form.get("client_id") != Some(&s.client_id.to_string())
        {
            return invalid_client("AADSTS700016: Application not found in the directory.");
        }
        let secret_ok = form
            .get("client_secret")
            .is_some_and(|v| *v == s.client_secret);
        let assertion_ok = form
            .get("client_assertion_type")
            .is_some_and(|t| t == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && form
                .get("client_assertion")
                .is_some_and(|a| a.split('.').count() == 3);
        if !secret_ok && !assertion_ok {
            return invalid_client(
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
        let token = format!("sim-{}", uuid::Uuid::new_v4().simple());
        self.lock().tokens.push(token.clone());
        reply(
            StatusCode::OK,
            json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}),
        )
    }

    fn authorized(&self, auth: Option<&str>) -> bool {
        let Some(token) = auth.and_then(|a| a.strip_prefix("Bearer ")) else {
            return false;
        };
        let s = self.lock();
        s.tokens.iter().any(|t| t == token) || s.static_tokens.iter().any(|t| t == token)
    }

    /// One Graph request (outer or inside a `$batch`).
    async fn graph(&self, ctx: Ctx, host: &str) -> Response<Bytes> {
        if let Some(res) = self.fault(&ctx).await {
            self.record(&ctx, res.status().as_u16());
            return res;
        }
        let ip = !ctx.inner
            && (ctx.path.contains("/identityProtection/")
                || ctx.path.contains("/identity/conditionalAccess/"));
        if ip {
            let mut s = self.lock();
            let now = Instant::now();
            let too_soon = s.config.enforce_rate_limit
                && s.last_ip_request.is_some_and(|last| {
                    now.duration_since(last) < std::time::Duration::from_millis(1000)
                });
            s.last_ip_request = Some(now);
            if too_soon {
                drop(s);
                self.record(&ctx, 429);
                // Identity protection's 429s carry no Retry-After.
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "Too many requests.",
                );
            }
        }
        let res = self.route(&ctx, host).await;
        self.record(&ctx, res.status().as_u16());
        res
    }

    async fn route(&self, ctx: &Ctx, host: &str) -> Response<Bytes> {
        let segments: Vec<&str> = ctx.path.trim_matches('/').split('/').collect();
        match (ctx.method.clone(), segments.as_slice()) {
            (Method::GET, ["v1.0", "identityProtection", "riskyUsers"]) => {
                self.list(ctx, host, "identityProtection/riskyUsers", Kind::RiskyUsers)
            }
            (Method::GET, ["v1.0", "identityProtection", "riskyUsers", id]) => {
                self.risky_user(ctx, id)
            }
            (Method::GET, ["v1.0", "identityProtection", "riskyUsers", _id, "history"]) => self
                .list(
                    ctx,
                    host,
                    ctx.path.trim_start_matches("/v1.0/"),
                    Kind::History,
                ),
            (Method::GET, ["v1.0", "identityProtection", "riskDetections"]) => self.list(
                ctx,
                host,
                "identityProtection/riskDetections",
                Kind::Detections,
            ),
            (Method::GET, ["v1.0", "users", id]) => self.user(id),
            (Method::GET, ["v1.0", "security", "alerts", id]) => {
                let users = self.lock().alerts.get(*id).cloned();
                match users {
                    Some(users) => reply(
                        StatusCode::OK,
                        json!({
                            "id": id,
                            "vendorInformation": {"provider": "IPC", "vendor": "Microsoft"},
                            "userStates": users.iter().map(|u| json!({"aadUserId": u.to_string()})).collect::<Vec<_>>(),
                        }),
                    ),
                    None => error(
                        StatusCode::NOT_FOUND,
                        "ResourceNotFound",
                        "The alert was not found.",
                    ),
                }
            }
            (
                Method::GET,
                [
                    "v1.0",
                    "reports",
                    "authenticationMethods",
                    "userRegistrationDetails",
                    id,
                ],
            ) => self.registration(id),
            (Method::POST, ["v1.0", "$batch"]) => Box::pin(self.batch(ctx, host)).await,
            (Method::GET, ["beta", "organization"]) => {
                let org = serde_json::to_value(&self.lock().organization).unwrap_or_default();
                reply(
                    StatusCode::OK,
                    json!({"@odata.context": "https://graph.microsoft.com/beta/$metadata#organization", "value": [org]}),
                )
            }
            (Method::GET, ["v1.0", "identity", "conditionalAccess", "policies"]) => self.list(
                ctx,
                host,
                "identity/conditionalAccess/policies",
                Kind::CaPolicies,
            ),
            (Method::GET, ["beta", "identityProtection", "policy"]) => {
                let s = self.lock();
                if !s.policy_available {
                    return error(
                        StatusCode::NOT_FOUND,
                        "ResourceNotFound",
                        "Resource not found for the segment 'policy'.",
                    );
                }
                reply(StatusCode::OK, Value::Object(s.policy.clone()))
            }
            (Method::PATCH, ["beta", "identityProtection", "policy"]) => self.patch_policy(ctx),
            (Method::GET, ["v1.0", "subscriptions"]) => {
                let subs: Vec<Value> = self
                    .lock()
                    .subscriptions
                    .values()
                    .map(|s| s.body.clone())
                    .collect();
                reply(
                    StatusCode::OK,
                    json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions", "value": subs}),
                )
            }
            (Method::POST, ["v1.0", "subscriptions"]) => self.create_subscription(ctx).await,
            (Method::PATCH, ["v1.0", "subscriptions", id]) => self.renew_subscription(ctx, id),
            (Method::POST, ["v1.0", "subscriptions", id, "reauthorize"]) => {
                let known = SubscriptionId::parse(id)
                    .ok()
                    .is_some_and(|id| self.lock().subscriptions.contains_key(&id));
                if known {
                    let mut res = Response::new(Bytes::new());
                    *res.status_mut() = StatusCode::NO_CONTENT;
                    res
                } else {
                    error(
                        StatusCode::NOT_FOUND,
                        "ResourceNotFound",
                        "The object was not found.",
                    )
                }
            }
            (Method::DELETE, ["v1.0", "subscriptions", id]) => {
                let removed = SubscriptionId::parse(id)
                    .ok()
                    .and_then(|id| self.lock().subscriptions.remove(&id));
                match removed {
                    Some(_) => {
                        let mut res = Response::new(Bytes::new());
                        *res.status_mut() = StatusCode::NO_CONTENT;
                        res
                    }
                    None => error(
                        StatusCode::NOT_FOUND,
                        "ResourceNotFound",
                        "The object was not found.",
                    ),
                }
            }
            _ => error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Resource not found for the segment.",
            ),
        }
    }

    /// A collection with `$filter`, `$top`, `$select`, `$skiptoken` paging and the `Prefer`
    /// behaviour for evolvable enums.
    fn list(&self, ctx: &Ctx, host: &str, path: &str, kind: Kind) -> Response<Bytes> {
        let filter = match ctx.query.get("$filter").map(|f| Filter::parse(f)) {
            Some(Err(e)) => return error(StatusCode::BAD_REQUEST, "BadRequest", &e),
            Some(Ok(f)) => Some(f),
            None => None,
        };
        let s = self.lock();
        let all: Vec<Value> = match kind {
            Kind::RiskyUsers => s
                .risky
                .values()
                .filter_map(|u| serde_json::to_value(u).ok())
                .collect(),
            Kind::Detections => s
                .detections
                .iter()
                .filter_map(|d| serde_json::to_value(d).ok())
                .collect(),
            Kind::History => {
                let user = path.split('/').nth(2).and_then(|id| UserId::parse(id).ok());
                s.history
                    .iter()
                    .filter(|h| h.user_id == user)
                    .filter_map(|h| serde_json::to_value(h).ok())
                    .collect()
            }
            Kind::CaPolicies => s.ca_policies.clone(),
        };
        let max_page = s.config.max_page;
        drop(s);
        let matching: Vec<Value> = all
            .into_iter()
            .filter(|v| filter.as_ref().is_none_or(|f| f.matches(v)))
            .collect();
        let top = ctx.query.get("$top").and_then(|t| t.parse::<usize>().ok());
        if top.is_some_and(|t| t > super::MAX_PAGE) {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid page size specified: '$top' exceeds 500.",
            );
        }
        let page = top.unwrap_or(20).min(max_page).max(1);
        let skip = ctx
            .query
            .get("$skiptoken")
            .and_then(|t| t.parse::<usize>().ok())
            .unwrap_or(0);
        let select: Option<Vec<&str>> = ctx.query.get("$select").map(|s| s.split(',').collect());
        let items: Vec<Value> = matching
            .iter()
            .skip(skip)
            .take(page)
            .map(|v| self.present(v.clone(), ctx.prefer, select.as_deref()))
            .collect();
        let mut body = json!({
            "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#{path}"),
            "value": items,
        });
        if skip + page < matching.len() {
            let mut q: Vec<(String, String)> = ctx
                .query
                .iter()
                .filter(|(k, _)| *k != "$skiptoken")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            q.sort();
            q.push(("$skiptoken".into(), (skip + page).to_string()));
            let query: String = q
                .iter()
                .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20").replace('\'', "%27")))
                .collect::<Vec<_>>()
                .join("&");
            body["@odata.nextLink"] = json!(format!("{}/v1.0/{path}?{query}", self.base(host)));
        }
        reply(StatusCode::OK, body)
    }

    /// Hides evolvable enum members unless the request opted in, and applies `$select`.
    fn present(&self, mut v: Value, prefer: bool, select: Option<&[&str]>) -> Value {
        if !prefer {
            if let Some(d) = v.get_mut("riskDetail")
                && d.as_str()
                    .is_some_and(|s| EVOLVABLE_RISK_DETAILS.contains(&s))
            {
                *d = json!("unknownFutureValue");
            }
            if let Some(controls) = v
                .pointer_mut("/grantControls/builtInControls")
                .and_then(Value::as_array_mut)
            {
                for c in controls.iter_mut() {
                    if c == "riskRemediation" {
                        *c = json!("unknownFutureValue");
                    }
                }
            }
        }
        match (select, v) {
            (Some(fields), Value::Object(map)) => Value::Object(
                map.into_iter()
                    .filter(|(k, _)| fields.contains(&k.as_str()))
                    .collect(),
            ),
            (_, v) => v,
        }
    }

    fn risky_user(&self, ctx: &Ctx, id: &str) -> Response<Bytes> {
        let user = UserId::parse(id)
            .ok()
            .and_then(|id| self.lock().risky.get(&id).cloned());
        match user.and_then(|u| serde_json::to_value(u).ok()) {
            Some(v) => {
                let select: Option<Vec<&str>> =
                    ctx.query.get("$select").map(|s| s.split(',').collect());
                reply(
                    StatusCode::OK,
                    self.present(v, ctx.prefer, select.as_deref()),
                )
            }
            None => error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "The requested resource was not found.",
            ),
        }
    }

    fn user(&self, id: &str) -> Response<Bytes> {
        let user = UserId::parse(id)
            .ok()
            .and_then(|id| self.lock().users.get(&id).cloned());
        match user {
            Some(u) => {
                let mut v = serde_json::to_value(&u.context).unwrap_or_default();
                if u.context.manager.is_none()
                    && let Some(o) = v.as_object_mut()
                {
                    o.remove("manager");
                }
                reply(StatusCode::OK, v)
            }
            None => error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                &format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            ),
        }
    }

    fn registration(&self, id: &str) -> Response<Bytes> {
        let user = UserId::parse(id)
            .ok()
            .and_then(|id| self.lock().users.get(&id).cloned());
        match user.and_then(|u| u.registration.map(|r| (u.context, r))) {
            Some((c, r)) => {
                let mut v = serde_json::to_value(&r).unwrap_or_default();
                v["id"] = json!(c.id.to_string());
                v["userPrincipalName"] = json!(c.user_principal_name);
                v["userDisplayName"] = json!(c.display_name);
                reply(StatusCode::OK, v)
            }
            None => error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "The requested resource was not found.",
            ),
        }
    }

    async fn batch(&self, ctx: &Ctx, host: &str) -> Response<Bytes> {
        let Ok(body) = serde_json::from_slice::<Value>(&ctx.body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid batch payload format.",
            );
        };
        let Some(requests) = body.get("requests").and_then(Value::as_array) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid batch payload format.",
            );
        };
        if requests.len() > 20 {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "The number of requests in the batch exceeds the limit of 20.",
            );
        }
        let mut responses = Vec::new();
        for r in requests {
            let id = r
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let url = r.get("url").and_then(Value::as_str).unwrap_or_default();
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            let inner = Ctx {
                method: r
                    .get("method")
                    .and_then(Value::as_str)
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(Method::GET),
                path: format!("/v1.0{path}"),
                query: form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect(),
                raw_query: (!query.is_empty()).then(|| query.to_string()),
                prefer: ctx.prefer,
                body: Bytes::new(),
                inner: true,
            };
            let res = Box::pin(self.graph(inner, host)).await;
            let mut headers = serde_json::Map::new();
            for (k, v) in res.headers() {
                headers.insert(k.to_string(), json!(v.to_str().unwrap_or_default()));
            }
            let status = res.status().as_u16();
            let body: Value = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
            responses.push(json!({"id": id, "status": status, "headers": headers, "body": body}));
        }
        // Graph returns batch responses in any order.
        responses.reverse();
        reply(StatusCode::OK, json!({"responses": responses}))
    }

    fn patch_policy(&self, ctx: &Ctx) -> Response<Bytes> {
        let Ok(Value::Object(patch)) = serde_json::from_slice::<Value>(&ctx.body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid request body.",
            );
        };
        let mut s = self.lock();
        if !s.policy_available {
            return error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "Resource not found for the segment 'policy'.",
            );
        }
        for (k, v) in patch {
            s.policy.insert(k, v);
        }
        let mut res = Response::new(Bytes::new());
        *res.status_mut() = StatusCode::NO_CONTENT;
        res
    }

    async fn create_subscription(&self, ctx: &Ctx) -> Response<Bytes> {
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&ctx.body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "Invalid request body.",
            );
        };
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(resource), Some(change_type), Some(url), Some(expires)) = (
            text("resource"),
            text("changeType"),
            text("notificationUrl"),
            text("expirationDateTime"),
        ) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "A required property is missing.",
            );
        };
        let Ok(expires_at) = OffsetDateTime::parse(&expires, &Rfc3339) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "expirationDateTime is invalid.",
            );
        };
        let max = if resource.to_ascii_lowercase().contains("security/alerts") {
            MAX_ALERT_SUBSCRIPTION_MINUTES
        } else {
            MAX_USER_SUBSCRIPTION_MINUTES
        };
        if expires_at > now() + time::Duration::minutes(max) {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "Subscription expiration can only be 41760 minutes in the future.",
            );
        }
        let duplicate = self.lock().subscriptions.values().any(|s| {
            s.body["resource"].as_str() == Some(&resource)
                && s.body["changeType"].as_str() == Some(&change_type)
                && s.body["notificationUrl"].as_str() == Some(&url)
        });
        if duplicate {
            return error(
                StatusCode::CONFLICT,
                "InvalidRequest",
                "Subscription Id already exists for the requested combination",
            );
        }
        let lifecycle = text("lifecycleNotificationUrl");
        for target in std::iter::once(&url).chain(lifecycle.as_ref()) {
            if !validate_endpoint(target).await {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
                );
            }
        }
        let id = SubscriptionId::from_uuid(uuid::Uuid::new_v4());
        let stored = json!({
            "id": id.to_string(),
            "resource": resource,
            "changeType": change_type,
            "notificationUrl": url,
            "lifecycleNotificationUrl": lifecycle,
            "expirationDateTime": rfc3339(expires_at),
            "clientState": null,
            "latestSupportedTlsVersion": "v1_2",
        });
        self.lock().subscriptions.insert(
            id,
            SimSubscription {
                body: stored.clone(),
                client_state: text("clientState"),
            },
        );
        reply(StatusCode::CREATED, stored)
    }

    fn renew_subscription(&self, ctx: &Ctx, id: &str) -> Response<Bytes> {
        let Some(id) = SubscriptionId::parse(id).ok() else {
            return error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "The object was not found.",
            );
        };
        let expires = serde_json::from_slice::<Value>(&ctx.body)
            .ok()
            .and_then(|b| {
                b.get("expirationDateTime")
                    .and_then(Value::as_str)
                    .and_then(|e| OffsetDateTime::parse(e, &Rfc3339).ok())
            });
        let Some(expires) = expires else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "expirationDateTime is invalid.",
            );
        };
        let mut s = self.lock();
        match s.subscriptions.get_mut(&id) {
            Some(sub) => {
                sub.body["expirationDateTime"] = json!(rfc3339(expires));
                reply(StatusCode::OK, sub.body.clone())
            }
            None => error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "The object was not found.",
            ),
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    RiskyUsers,
    Detections,
    History,
    CaPolicies,
}

/// Graph's validation handshake: POST `?validationToken=…`, expect 200 with the decoded token.
async fn validate_endpoint(url: &str) -> bool {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let encoded: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build();
    let Ok(client) = client else { return false };
    match client
        .post(format!("{url}{sep}validationToken={encoded}"))
        .header("content-type", "text/plain; charset=utf-8")
        .send()
        .await
    {
        Ok(r) if r.status() == reqwest::StatusCode::OK => {
            let plain = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/plain"));
            plain && r.text().await.is_ok_and(|t| t == token)
        }
        _ => false,
    }
}

#[async_trait::async_trait]
impl HttpApp for SimApp {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
            .to_string();
        let path = req.uri().path().to_string();
        let raw_query = req.uri().query().map(str::to_string);
        let query: HashMap<String, String> = raw_query
            .as_deref()
            .map(|q| {
                // OData clients send spaces as %20; a literal '+' must stay a '+'.
                let q = q.replace('+', "%2B");
                form_urlencoded::parse(q.as_bytes()).into_owned().collect()
            })
            .unwrap_or_default();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        if let (&Method::POST, [tenant, "oauth2", "v2.0", "token"]) =
            (req.method(), segments.as_slice())
        {
            return self.token(tenant, req.body()).await;
        }
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        if !self.authorized(auth) {
            return error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token is empty or invalid.",
            );
        }
        let prefer = req
            .headers()
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',').any(|p| {
                    p.trim()
                        .eq_ignore_ascii_case("include-unknown-enum-members")
                })
            });
        let ctx = Ctx {
            method: req.method().clone(),
            path,
            query,
            raw_query,
            prefer,
            body: req.into_body(),
            inner: false,
        };
        self.graph(ctx, &host).await
    }
}
