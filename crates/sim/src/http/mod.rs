//! The simulator's HTTP front: request parsing, authorization, scripted faults, recording and
//! routing. Each resource family is served by its own module:
//!
//! - [`token`]: the token endpoint and bearer tokens;
//! - [`identity`]: identity protection (risky users, detections, history), Conditional Access
//!   and the beta policy;
//! - [`directory`]: users, registration details and `$batch`;
//! - [`subscriptions`]: subscriptions and Graph's validation handshake;
//! - [`signin`]: interactive sign-in (account picker, authorization code with PKCE, published
//!   signing keys) and the delegated actions on risky users with their role checks.

mod directory;
mod identity;
mod signin;
mod subscriptions;
mod token;
mod workloads;

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
use riskrelay::ids::{SubscriptionId, UserId};
use riskrelay::server::HttpApp;
use riskrelay::workload::WorkloadKind;

pub struct SimApp {
    state: Arc<Mutex<State>>,
}

/// One server for several simulated tenants, as Entra and Graph are one service for all: the
/// token and sign-in endpoints name the tenant in their path, and a Graph request belongs to the
/// tenant whose token it carries.
pub struct SimFront {
    apps: Vec<(String, SimApp)>,
}

impl SimFront {
    pub(super) fn new(states: &[Arc<Mutex<State>>]) -> Self {
        Self {
            apps: states
                .iter()
                .map(|s| {
                    let tenant = s
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .config
                        .tenant_id
                        .to_string();
                    (tenant, SimApp::new(s.clone()))
                })
                .collect(),
        }
    }

    fn pick(&self, req: &Request<Bytes>) -> &SimApp {
        let first = req.uri().path().trim_start_matches('/').split('/').next();
        if let Some((_, app)) = self.apps.iter().find(|(t, _)| Some(t.as_str()) == first) {
            return app;
        }
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        self.apps
            .iter()
            .find(|(_, app)| app.caller(auth).is_some())
            .map_or(&self.apps[0].1, |(_, app)| app)
    }
}

#[async_trait::async_trait]
impl HttpApp for SimFront {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        self.pick(&req).handle(req).await
    }
}

struct Ctx {
    method: Method,
    path: String,
    query: HashMap<String, String>,
    raw_query: Option<String>,
    prefer: bool,
    body: Bytes,
    inner: bool,
    caller: signin::Caller,
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
            });
            match i {
                Some(i) => {
                    s.faults[i].times -= 1;
                    let r = s.faults[i].reply.clone();
                    if s.faults[i].times == 0 {
                        s.faults.remove(i);
                    }
                    r
                }
                None => s.chaos.as_ref()?.pick(&ctx.path)?,
            }
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
                if let Some(v) = retry_after
                    && let Ok(v) = http::HeaderValue::from_str(&v)
                {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
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
            at: std::time::Instant::now(),
        });
    }

    /// One Graph request (outer or inside a `$batch`).
    async fn graph(&self, ctx: Ctx, host: &str) -> Response<Bytes> {
        let batch = !ctx.inner && ctx.path.ends_with("/$batch");
        if batch {
            let mut s = self.lock();
            s.batches_in_flight += 1;
            s.most_batches_in_flight = s.most_batches_in_flight.max(s.batches_in_flight);
        }
        let res = self.graph_request(ctx, host).await;
        if batch {
            self.lock().batches_in_flight -= 1;
        }
        res
    }

    async fn graph_request(&self, ctx: Ctx, host: &str) -> Response<Bytes> {
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
        if takes_no_query_options(&segments) && ctx.query.keys().any(|k| k.starts_with('$')) {
            // As Graph answers a request its documentation says supports no OData query option.
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Query options are not supported for this request.",
            );
        }
        match (ctx.method.clone(), segments.as_slice()) {
            (Method::GET, ["v1.0", "identityProtection", "riskyUsers"]) => {
                self.list(ctx, host, "identityProtection/riskyUsers", Kind::RiskyUsers)
            }
            (Method::GET, ["v1.0", "identityProtection", "riskyUsers", id]) => {
                match self.analyst_may_read(ctx) {
                    Some(denied) => denied,
                    None => self.risky_user(ctx, id),
                }
            }
            (
                Method::POST,
                [
                    "v1.0",
                    "identityProtection",
                    "riskyUsers",
                    action @ ("confirmCompromised" | "dismiss"),
                ],
            ) => self.risky_users_action(ctx, action),
            (Method::POST, ["v1.0", "users", id, "revokeSignInSessions"]) => self.revoke(ctx, id),
            (Method::POST, ["v1.0", "me", "checkMemberGroups"]) => self.check_member_groups(ctx),
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
            (Method::GET, ["v1.0", "identityProtection", "riskyServicePrincipals"]) => self.list(
                ctx,
                host,
                "identityProtection/riskyServicePrincipals",
                Kind::RiskyWorkloads(WorkloadKind::ServicePrincipal),
            ),
            (Method::GET, ["v1.0", "identityProtection", "riskyServicePrincipals", id]) => {
                self.risky_workload(ctx, WorkloadKind::ServicePrincipal, id)
            }
            (
                Method::POST,
                [
                    "v1.0",
                    "identityProtection",
                    "riskyServicePrincipals",
                    action @ ("confirmCompromised" | "dismiss"),
                ],
            ) => self.workload_risk_action(ctx, WorkloadKind::ServicePrincipal, action),
            (
                Method::POST,
                [
                    "beta",
                    "identityProtection",
                    "riskyAgents",
                    action @ ("confirmCompromised" | "confirmSafe" | "dismiss"),
                ],
            ) => self.workload_risk_action(ctx, WorkloadKind::Agent, action),
            (Method::PATCH, ["v1.0", "servicePrincipals", id]) => {
                self.update_service_principal(ctx, id)
            }
            (
                Method::GET,
                [
                    "v1.0",
                    "identityProtection",
                    "servicePrincipalRiskDetections",
                ],
            ) => self.list(
                ctx,
                host,
                "identityProtection/servicePrincipalRiskDetections",
                Kind::WorkloadDetections(WorkloadKind::ServicePrincipal),
            ),
            (Method::GET, ["beta", "identityProtection", "riskyAgents"]) => self.list(
                ctx,
                host,
                "identityProtection/riskyAgents",
                Kind::RiskyWorkloads(WorkloadKind::Agent),
            ),
            (Method::GET, ["beta", "identityProtection", "riskyAgents", id]) => {
                self.risky_workload(ctx, WorkloadKind::Agent, id)
            }
            (Method::GET, ["beta", "identityProtection", "agentRiskDetections"]) => self.list(
                ctx,
                host,
                "identityProtection/agentRiskDetections",
                Kind::WorkloadDetections(WorkloadKind::Agent),
            ),
            (Method::GET, ["v1.0", rest @ ..])
                if rest.first().is_some_and(|h| {
                    h.starts_with("servicePrincipals") || h.starts_with("applications(")
                }) =>
            {
                self.service_principal(ctx, rest)
            }
            (Method::GET, ["v1.0", "users", id]) => self.user(id),
            (Method::GET, ["v1.0", "users", id, "transitiveMemberOf"]) => self.member_of(id),
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
}

#[derive(Clone, Copy)]
enum Kind {
    RiskyUsers,
    Detections,
    History,
    CaPolicies,
    RiskyWorkloads(riskrelay::workload::WorkloadKind),
    WorkloadDetections(riskrelay::workload::WorkloadKind),
}

/// Requests for which Graph documents no OData query option: one riskyUser (v1.0 `riskyuser-get`)
/// and one user's registration details (`userregistrationdetails-get`).
fn takes_no_query_options(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["v1.0", "identityProtection", "riskyUsers", _]
            | [
                "v1.0" | "beta",
                "reports",
                "authenticationMethods",
                "userRegistrationDetails",
                _
            ]
    )
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
        // The sign-in endpoints take ordinary form encoding ('+' is a space), unlike OData.
        let form_query: HashMap<String, String> =
            form_urlencoded::parse(raw_query.as_deref().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        match (req.method(), segments.as_slice()) {
            (&Method::POST, [tenant, "oauth2", "v2.0", "token"]) => {
                return self.token(tenant, &host, req.body()).await;
            }
            (&Method::GET, [tenant, "oauth2", "v2.0", "authorize"]) => {
                let cookies = req
                    .headers()
                    .get(header::COOKIE)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default();
                return self.authorize(
                    tenant,
                    &form_query,
                    cookies,
                    raw_query.as_deref().unwrap_or_default(),
                );
            }
            (&Method::GET, [tenant, "oauth2", "v2.0", "authorize", "as"]) => {
                return self.authorize_as(tenant, &form_query);
            }
            (&Method::GET, [_tenant, "discovery", "v2.0", "keys"]) => return self.keys(),
            _ => {}
        }
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        let Some(caller) = self.caller(auth) else {
            return error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token is empty or invalid.",
            );
        };
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
            caller,
        };
        self.graph(ctx, &host).await
    }
}
