//! Interactive sign-in (authorize page, authorization-code token exchange with PKCE, the
//! published signing keys) and the delegated actions on risky users, with Entra's role checks.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use super::*;
use crate::signin::{
    Code, Delegated, SECURITY_ADMINISTRATOR, SECURITY_OPERATOR, SECURITY_READER, USER_ADMINISTRATOR,
};
use riskrelay::risk::{RiskDetail, RiskLevel, RiskState};

/// Who is calling Graph.
#[derive(Debug, Clone)]
pub(super) enum Caller {
    /// riskrelay's app token (or a static test token).
    App,
    /// A signed-in analyst's delegated token.
    Analyst(Delegated),
}

/// The cookie the simulated sign-in page remembers its analyst in, for `prompt=none`.
const SIGNIN_COOKIE: &str = "sim-signin";

fn html(status: StatusCode, body: String) -> Response<Bytes> {
    let mut res = Response::new(Bytes::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

fn redirect(to: &str) -> Response<Bytes> {
    let mut res = Response::new(Bytes::new());
    *res.status_mut() = StatusCode::FOUND;
    if let Ok(v) = http::HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Escapes text for HTML (the simulator's pages show values from the query string).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{q}")
}

impl SimApp {
    /// Checks an authorize request as Entra would before showing anything: the app, the
    /// redirect URI, a code response with an S256 PKCE challenge.
    fn authorize_params(
        &self,
        tenant: &str,
        q: &HashMap<String, String>,
    ) -> Result<(String, Code), Box<Response<Bytes>>> {
        let s = self.lock();
        let bad = |code: &str, text: &str| {
            Box::new(html(
                StatusCode::BAD_REQUEST,
                format!(
                    "<!doctype html><title>Sign in</title><h1>Sorry, but we're having trouble signing you in.</h1><p>{code}: {}</p>",
                    esc(text)
                ),
            ))
        };
        if tenant != s.config.tenant_id.to_string() {
            return Err(bad("AADSTS90002", "Tenant not found."));
        }
        if q.get("client_id") != Some(&s.config.client_id.to_string()) {
            return Err(bad(
                "AADSTS700016",
                "Application not found in the directory.",
            ));
        }
        let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
        if url::Url::parse(&redirect_uri).is_err() {
            return Err(bad(
                "AADSTS50011",
                "The redirect URI specified in the request does not match.",
            ));
        }
        if q.get("response_type").map(String::as_str) != Some("code") {
            return Err(bad("AADSTS900144", "The request body must contain 'code'."));
        }
        let challenge = q.get("code_challenge").cloned().unwrap_or_default();
        if challenge.len() < 43
            || q.get("code_challenge_method").map(String::as_str) != Some("S256")
        {
            return Err(bad(
                "AADSTS501491",
                "Invalid size of Code_Challenge parameter, or a method other than S256.",
            ));
        }
        let scope = q.get("scope").cloned().unwrap_or_default();
        if !scope.split(' ').any(|s| s == "openid") {
            return Err(bad("AADSTS900144", "The scope must include openid."));
        }
        Ok((
            q.get("state").cloned().unwrap_or_default(),
            Code {
                analyst: 0,
                client_id: s.config.client_id.to_string(),
                redirect_uri,
                challenge,
                nonce: q.get("nonce").cloned(),
                scope,
            },
        ))
    }

    fn issue_code(&self, mut code: Code, analyst: usize, state: &str) -> Response<Bytes> {
        let asks_graph = code.scope.split(' ').any(|s| s.contains('/'));
        if self.lock().signin.delegated_withheld && asks_graph {
            return redirect(&with_query(
                &code.redirect_uri,
                &[
                    ("error", "consent_required"),
                    (
                        "error_description",
                        "AADSTS65001: The user or administrator has not consented to use the application.",
                    ),
                    ("state", state),
                ],
            ));
        }
        code.analyst = analyst;
        let value = format!("simcode-{}", uuid::Uuid::new_v4().simple());
        let back = with_query(&code.redirect_uri, &[("code", &value), ("state", state)]);
        self.lock().signin.codes.insert(value, code);
        redirect(&back)
    }

    /// `GET /{tenant}/oauth2/v2.0/authorize`: the account picker, or with `prompt=none` an
    /// answer at once for the analyst already signed in here.
    pub(super) fn authorize(
        &self,
        tenant: &str,
        q: &HashMap<String, String>,
        cookies: &str,
        raw_query: &str,
    ) -> Response<Bytes> {
        let (state, code) = match self.authorize_params(tenant, q) {
            Ok(p) => p,
            Err(res) => return *res,
        };
        if q.get("prompt").map(String::as_str) == Some("none") {
            let signed_in = cookies
                .split(';')
                .filter_map(|c| c.trim().split_once('='))
                .find(|(k, _)| *k == SIGNIN_COOKIE)
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .filter(|i| *i < self.lock().signin.analysts.len());
            return match signed_in {
                Some(i) => self.issue_code(code, i, &state),
                None => redirect(&with_query(
                    &code.redirect_uri,
                    &[
                        ("error", "login_required"),
                        (
                            "error_description",
                            "AADSTS50058: A silent sign-in request was sent but no user is signed in.",
                        ),
                        ("state", &state),
                    ],
                )),
            };
        }
        let analysts = self.lock().signin.analysts.clone();
        let items: String = analysts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                format!(
                    "<li><a id=\"analyst-{i}\" href=\"/{tenant}/oauth2/v2.0/authorize/as?analyst={i}&amp;{}\">{}<br><small>{}</small></a></li>",
                    esc(raw_query),
                    esc(&a.name),
                    esc(&a.upn)
                )
            })
            .collect();
        html(
            StatusCode::OK,
            format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head><body><main><h1>Pick an account</h1><p>Simulated Microsoft Entra sign-in for tenant {tenant}</p><ul>{items}</ul></main></body></html>"
            ),
        )
    }

    /// `GET /{tenant}/oauth2/v2.0/authorize/as?analyst=N&…`: the picker's choice.
    pub(super) fn authorize_as(
        &self,
        tenant: &str,
        q: &HashMap<String, String>,
    ) -> Response<Bytes> {
        let (state, code) = match self.authorize_params(tenant, q) {
            Ok(p) => p,
            Err(res) => return *res,
        };
        let Some(i) = q
            .get("analyst")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|i| *i < self.lock().signin.analysts.len())
        else {
            return html(StatusCode::BAD_REQUEST, "no such account".into());
        };
        let mut res = self.issue_code(code, i, &state);
        if let Ok(v) = http::HeaderValue::from_str(&format!(
            "{SIGNIN_COOKIE}={i}; Path=/{tenant}/oauth2/; HttpOnly; SameSite=Lax"
        )) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
        res
    }

    /// `GET /{tenant}/discovery/v2.0/keys`.
    pub(super) fn keys(&self) -> Response<Bytes> {
        match self.lock().signin.key() {
            Ok(k) => reply(StatusCode::OK, k.jwks()),
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "no key"),
        }
    }

    /// The token endpoint's `authorization_code` grant: one redemption per code, the same
    /// redirect URI, a verifier matching the challenge, and the app's own credential.
    pub(super) fn redeem(
        &self,
        tenant: &str,
        host: &str,
        form: &HashMap<String, String>,
    ) -> Response<Bytes> {
        let invalid_grant = |desc: &str| {
            reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_grant", "error_description": desc}),
            )
        };
        let mut s = self.lock();
        let value = form.get("code").cloned().unwrap_or_default();
        if s.signin.redeemed.contains(&value) {
            return invalid_grant("AADSTS54005: OAuth2 Authorization code was already redeemed.");
        }
        let Some(code) = s.signin.codes.remove(&value) else {
            return invalid_grant(
                "AADSTS9002313: Invalid request. The code is malformed or invalid.",
            );
        };
        s.signin.redeemed.insert(value);
        if form.get("client_id") != Some(&code.client_id) {
            return invalid_grant("AADSTS700016: The code was issued to another application.");
        }
        if form.get("redirect_uri") != Some(&code.redirect_uri) {
            return invalid_grant(
                "AADSTS50148: The redirect_uri does not match the one in the authorization request.",
            );
        }
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
        if B64.encode(digest.as_ref()) != code.challenge {
            return invalid_grant(
                "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            );
        }
        let analyst = s.signin.analysts[code.analyst].clone();
        let key = match s.signin.key() {
            Ok(k) => k,
            Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "no key"),
        };
        let s_tid = s.signin.tid.clone();
        let scopes: Vec<String> = code
            .scope
            .split(' ')
            .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
            .filter(|s| !["openid", "profile", "email", "offline_access"].contains(&s.as_str()))
            .collect();
        let access = format!("sim-user-{}", uuid::Uuid::new_v4().simple());
        s.signin.tokens.insert(
            access.clone(),
            Delegated {
                analyst: code.analyst,
                scopes: scopes.clone(),
            },
        );
        drop(s);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut claims = json!({
            "ver": "2.0",
            "iss": format!("http://{host}/{tenant}/v2.0"),
            "aud": code.client_id,
            "sub": analyst.oid.simple().to_string(),
            "oid": analyst.oid.to_string(),
            "tid": s_tid.as_deref().unwrap_or(tenant),
            "preferred_username": analyst.upn,
            "wids": analyst.wids(),
            "name": analyst.name,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        });
        if let Some(n) = code.nonce {
            claims["nonce"] = json!(n);
        }
        let Ok(id_token) = key.sign(&claims) else {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "could not sign",
            );
        };
        reply(
            StatusCode::OK,
            json!({
                "token_type": "Bearer",
                "scope": scopes.join(" "),
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": access,
                "id_token": id_token,
            }),
        )
    }

    /// Who a bearer token belongs to, if the simulator issued it.
    pub(super) fn caller(&self, auth: Option<&str>) -> Option<Caller> {
        let token = auth?.strip_prefix("Bearer ")?;
        let s = self.lock();
        if s.tokens.iter().any(|t| t == token) || s.static_tokens.iter().any(|t| t == token) {
            return Some(Caller::App);
        }
        s.signin.tokens.get(token).cloned().map(Caller::Analyst)
    }

    /// Entra's answer when the caller may not: the app lacks a permission, or the analyst lacks
    /// the delegated scope or a directory role.
    pub(super) fn denied(
        &self,
        ctx: &Ctx,
        scopes: &[&str],
        roles: &[&str],
    ) -> Option<Response<Bytes>> {
        let refuse = |msg: &str| {
            Some(error(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                msg,
            ))
        };
        match &ctx.caller {
            Caller::App => refuse("Insufficient privileges to complete the operation."),
            Caller::Analyst(d) => {
                let analyst = self.lock().signin.analysts[d.analyst].clone();
                if !scopes.iter().any(|s| d.scopes.iter().any(|g| g == s)) {
                    return refuse("The token lacks the delegated permission for this operation.");
                }
                if !roles.iter().any(|r| analyst.has_role(r)) {
                    return refuse(&format!(
                        "The signed-in user needs the {} role for this operation.",
                        roles.join(" or ")
                    ));
                }
                None
            }
        }
    }

    pub(super) fn record_action(&self, ctx: &Ctx, what: &str, user: UserId) {
        if let Caller::Analyst(d) = &ctx.caller {
            let mut s = self.lock();
            let upn = s.signin.analysts[d.analyst].upn.clone();
            s.signin.actions.push((upn, what.to_string(), user));
        }
    }

    /// The roles that may read risky users with a delegated token.
    pub(super) fn analyst_may_read(&self, ctx: &Ctx) -> Option<Response<Bytes>> {
        match ctx.caller {
            Caller::App => None,
            Caller::Analyst(_) => self.denied(
                ctx,
                &[
                    "IdentityRiskyUser.Read.All",
                    "IdentityRiskyUser.ReadWrite.All",
                ],
                &[SECURITY_OPERATOR, SECURITY_READER, SECURITY_ADMINISTRATOR],
            ),
        }
    }

    /// `POST identityProtection/riskyUsers/{confirmCompromised|dismiss}`.
    pub(super) fn risky_users_action(&self, ctx: &Ctx, action: &str) -> Response<Bytes> {
        if let Some(res) = self.denied(
            ctx,
            &["IdentityRiskyUser.ReadWrite.All"],
            &[SECURITY_OPERATOR, SECURITY_ADMINISTRATOR],
        ) {
            return res;
        }
        let Some(ids) = ids_in(&ctx.body, "userIds") else {
            return ids_required("userIds");
        };
        let (level, state, detail) = if action == "confirmCompromised" {
            (
                RiskLevel::High,
                RiskState::ConfirmedCompromised,
                RiskDetail::AdminConfirmedUserCompromised,
            )
        } else {
            (
                RiskLevel::None,
                RiskState::Dismissed,
                RiskDetail::AdminDismissedAllRiskForUser,
            )
        };
        for id in ids {
            self.lock()
                .set_risk_at(id, level.clone(), state.clone(), detail.clone(), now());
            self.record_action(ctx, action, id);
        }
        let mut res = Response::new(Bytes::new());
        *res.status_mut() = StatusCode::NO_CONTENT;
        res
    }

    /// `POST me/checkMemberGroups`: which of the given groups the signed-in analyst is in.
    pub(super) fn check_member_groups(&self, ctx: &Ctx) -> Response<Bytes> {
        let Caller::Analyst(d) = &ctx.caller else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
            );
        };
        // Graph's least privileged permission for the signed-in user's own groups.
        if !d.scopes.iter().any(|s| s == "User.Read") {
            return error(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            );
        }
        let asked: Vec<String> = serde_json::from_slice::<Value>(&ctx.body)
            .ok()
            .and_then(|b| b.get("groupIds").cloned())
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let groups = self.lock().signin.analysts[d.analyst].groups.clone();
        let member: Vec<&String> = asked
            .iter()
            .filter(|g| groups.iter().any(|m| m.to_string().eq_ignore_ascii_case(g)))
            .collect();
        reply(StatusCode::OK, json!({ "value": member }))
    }

    /// `POST users/{id}/revokeSignInSessions`.
    pub(super) fn revoke(&self, ctx: &Ctx, id: &str) -> Response<Bytes> {
        if let Some(res) = self.denied(ctx, &["User.RevokeSessions.All"], &[USER_ADMINISTRATOR]) {
            return res;
        }
        let Ok(id) = UserId::parse(id) else {
            return error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                "Resource does not exist.",
            );
        };
        self.record_action(ctx, "revokeSignInSessions", id);
        reply(StatusCode::OK, json!({"value": true}))
    }
}

/// The ids a risk action's body names in `member` (`userIds`, `servicePrincipalIds`,
/// `agentIds`); `None` (Graph answers 400) when there are none.
pub(super) fn ids_in(body: &[u8], member: &str) -> Option<Vec<UserId>> {
    let ids: Vec<UserId> = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|b| b.get(member).cloned())
        .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
        .map(|v| v.iter().filter_map(|s| UserId::parse(s).ok()).collect())
        .unwrap_or_default();
    (!ids.is_empty()).then_some(ids)
}

/// Graph's answer to a risk action that names no id.
pub(super) fn ids_required(member: &str) -> Response<Bytes> {
    error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        &format!("{member} is required."),
    )
}
