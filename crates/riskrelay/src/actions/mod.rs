//! Acting from an alert: the pages behind an alert's action buttons, as the signed-in analyst.
//!
//! The flow, and why each step is there:
//!
//! 1. `GET /actions/<link>` verifies the signed link ([`crate::action_link`]) and shows what it is
//!    for. It never acts and writes nothing: Safe Links and Slack's unfurler open URLs before
//!    people do.
//! 2. `GET /actions/signin/<link>` gives the browser a session cookie (`__Host-`) and sends it to
//!    Entra: authorization code flow with PKCE, `state` and `nonce`. The sign-in in flight is
//!    kept in a second, sealed cookie ([`seal`]), bound to the session: this GET, which link
//!    scanners make too, stores nothing.
//! 3. `GET /actions/callback` checks the answer against that cookie, redeems the code (Entra
//!    takes each code once), validates the ID token, and with the analyst's delegated token reads
//!    the user's risk live. Only now is the session stored: who signed in, a CSRF token, and the
//!    `state`s already answered (a second answer is refused). The token is dropped.
//! 4. `POST /actions/<link>` with the session's CSRF token asks Entra again, silently
//!    (`prompt=none` for the same analyst), for a token to act with; its callback checks it is
//!    the same analyst, claims the session's one action (a conditional write: of concurrent or
//!    repeated submissions one acts, the others see what was done), takes the action with that
//!    token, records it, tells every destination once, and shows what was done.
//!
//! So every change is made with a token Entra issued to the analyst for that one request: Entra's
//! roles, MFA and Conditional Access decide, and its audit log names the person. riskrelay's app
//! needs no write permission.

pub mod oidc;
pub mod pages;
pub mod seal;
pub mod taken;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

use crate::action_link::{ActionKind, ActionLink, ActionsConfig, LinkError};
use crate::alert::{ActionNotice, Message};
use crate::clock::Clock;
use crate::deliver::Delivery;
use crate::graph::{GraphClient, GraphError};
use crate::ids::TenantId;
use crate::risk::RiskyUser;
use crate::store::{self, Store};
use oidc::{Analyst, Oidc, digest, random};

/// A session on the action pages lasts this long: enough to read the page and confirm.
const SESSION_LIFETIME: time::Duration = time::Duration::minutes(15);
/// A sign-in must come back within this long.
const LOGIN_LIFETIME: time::Duration = time::Duration::minutes(10);
/// An action claimed by a sign-in that never finished (the process stopped mid-way) may be
/// claimed again after this long: longer than Graph's answer with its retries takes.
const ACT_CLAIM: time::Duration = time::Duration::minutes(2);
/// What a sealed sign-in cookie is for (see [`seal`]).
const LOGIN_SEAL: &str = "login";
/// Bytes of randomness in session ids, CSRF tokens, `state`, `nonce` and PKCE verifiers (the
/// verifier's 32 bytes give the 43 characters RFC 7636 asks for at least).
const RANDOM_BYTES: usize = 32;

/// Delegated permissions asked for: reading and changing user risk always, revoking sessions only
/// when configured, and the analyst's own group memberships (`/me/checkMemberGroups`, for which
/// Graph names `User.Read` the least privileged permission) only with an action group.
fn scope_names(config: &ActionsConfig) -> Vec<&'static str> {
    let mut names = vec!["IdentityRiskyUser.ReadWrite.All"];
    if config.actions.contains(&ActionKind::Revoke) {
        names.push("User.RevokeSessions.All");
    }
    if config.group.is_some() {
        names.push("User.Read");
    }
    names
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    /// The link this session is for.
    link: String,
    analyst: Option<Analyst>,
    csrf: String,
    live: Option<RiskyUser>,
    done: Option<ActionNotice>,
    /// When a sign-in claimed the session's one action; others wait for it (see [`ACT_CLAIM`]).
    #[serde(default, with = "time::serde::rfc3339::option")]
    acting: Option<OffsetDateTime>,
    /// Digests of the `state`s whose answers came back to this session: each is taken once.
    #[serde(default)]
    used: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    expires: OffsetDateTime,
}

impl Session {
    fn claimed(&self, now: OffsetDateTime) -> bool {
        self.acting.is_some_and(|at| now - at < ACT_CLAIM)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Purpose {
    SignIn,
    Act,
}

/// A sign-in in flight, sealed in the browser's cookie (see [`seal`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    /// The `state` sent to Entra: its answer must carry the same.
    state: String,
    /// Digest of the session cookie that started it: the callback must come to that browser.
    session: String,
    /// The link it is for.
    link: String,
    purpose: Purpose,
    nonce: String,
    verifier: String,
    /// Asked with `prompt=none`; Entra may answer that it needs the analyst after all.
    silent: bool,
    #[serde(with = "time::serde::rfc3339")]
    expires: OffsetDateTime,
}

/// Everything a page can go wrong with, and the one place each becomes a status and words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    NotFound,
    BadLink,
    Expired,
    SignInFirst,
    Csrf,
    Replayed,
    SignInFailed,
    WrongAnalyst,
    NeedsRole(ActionKind),
    /// The analyst's token may not read the user's risk.
    NeedsReadRole,
    /// Graph refused to say whether the analyst is in the action group.
    GroupCheckRefused,
    NotInGroup,
    GraphFailed,
    Unavailable,
    /// Another submission of the same form is taking the action right now.
    InProgress,
}

impl Problem {
    fn page(self) -> Response<Bytes> {
        let (status, title, detail) = match self {
            Self::NotFound => (StatusCode::NOT_FOUND, "Not found", "There is no page here."),
            Self::BadLink => (
                StatusCode::BAD_REQUEST,
                "This link is not valid",
                "The link was not made by this riskrelay, or it was changed. Use the button on the alert itself; nothing was done.",
            ),
            Self::Expired => (
                StatusCode::GONE,
                "This link has expired",
                "Action links last a limited time. Act in the Entra admin center instead; nothing was done.",
            ),
            Self::SignInFirst => (
                StatusCode::FORBIDDEN,
                "Sign in first",
                "Your session has ended or never began. Open the link from the alert again and sign in; nothing was done.",
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "The request was refused",
                "The form did not come from this page in this browser session. Open the link from the alert again; nothing was done.",
            ),
            Self::Replayed => (
                StatusCode::BAD_REQUEST,
                "This sign-in was already used",
                "Each sign-in answer can be used once. Open the link from the alert again; nothing was done.",
            ),
            Self::SignInFailed => (
                StatusCode::BAD_REQUEST,
                "Sign-in could not be completed",
                "Microsoft Entra did not confirm who you are, or the sign-in began in another browser or expired. Open the link from the alert again; nothing was done.",
            ),
            Self::WrongAnalyst => (
                StatusCode::FORBIDDEN,
                "Another account answered",
                "The account Entra signed in is not the one this session began with. Open the link from the alert again; nothing was done.",
            ),
            Self::NeedsRole(ActionKind::Revoke) => (
                StatusCode::FORBIDDEN,
                "Graph refused to revoke the user's sessions",
                "Revoking sessions needs one of the User Administrator, Helpdesk Administrator, Privileged Authentication Administrator or Authentication Administrator roles in Entra ID (for an administrator's account, only a role allowed to act on privileged users), and riskrelay's app registration needs the delegated permission User.RevokeSessions.All. Nothing was done.",
            ),
            Self::NeedsRole(_) => (
                StatusCode::FORBIDDEN,
                "Graph refused to change the user's risk",
                "Microsoft Graph names Security Administrator as the least privileged role for confirming a compromise or dismissing user risk; Entra's ID Protection documentation also lets Security Operator do both. If you hold one of these roles already, riskrelay's app registration may lack the delegated permission IdentityRiskyUser.ReadWrite.All, or Graph refused for another reason: act in the Entra admin center instead. Nothing was done.",
            ),
            Self::NeedsReadRole => (
                StatusCode::FORBIDDEN,
                "Graph refused to show the user's risk",
                "Reading a user's risk needs one of the Security Reader, Security Operator, Security Administrator or Global Reader roles in Entra ID, and riskrelay's app registration needs the delegated permission IdentityRiskyUser.ReadWrite.All. Nothing was done.",
            ),
            Self::GroupCheckRefused => (
                StatusCode::FORBIDDEN,
                "Your group membership could not be checked",
                "This riskrelay lets only members of one Entra group act (RISKRELAY_ACTION_GROUP), and Graph refused to say whether you are one. riskrelay's app registration needs the delegated permission User.Read, with admin consent. Nothing was done.",
            ),
            Self::NotInGroup => (
                StatusCode::FORBIDDEN,
                "You are not in the group allowed to act",
                "This riskrelay lets only members of one Entra group act from alerts (RISKRELAY_ACTION_GROUP). Nothing was done.",
            ),
            Self::GraphFailed => (
                StatusCode::BAD_GATEWAY,
                "Microsoft Graph did not take the action",
                "Graph could not be reached or refused the request. Try again in a minute, or act in the Entra admin center.",
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again in a moment",
                "riskrelay could not reach its store. Nothing was done.",
            ),
            Self::InProgress => (
                StatusCode::CONFLICT,
                "This action is being taken",
                "The same form was sent more than once; one of them is taking the action, and this one does not act again. Open the link from the alert in a minute to see what was done.",
            ),
        };
        html(status, pages::problem(title, detail))
    }
}

impl From<LinkError> for Problem {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::Invalid => Self::BadLink,
            LinkError::Expired => Self::Expired,
        }
    }
}

type Page = Result<Response<Bytes>, Problem>;

/// Headers on every answer: nothing framed, nothing cached, no referrer (the link is in the URL),
/// no script.
fn secure(mut res: Response<Bytes>, form_action: &str) -> Response<Bytes> {
    let h = res.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

fn html(status: StatusCode, body: String) -> Response<Bytes> {
    let mut res = Response::new(Bytes::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

fn see_other(to: &str) -> Response<Bytes> {
    let mut res = Response::new(Bytes::new());
    *res.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

pub struct ActionsApp {
    tenant: TenantId,
    config: ActionsConfig,
    oidc: Oidc,
    graph: GraphClient,
    store: Arc<dyn Store>,
    delivery: Delivery,
    clock: Arc<dyn Clock>,
    sealer: seal::Sealer,
}

impl ActionsApp {
    pub fn new(
        config: ActionsConfig,
        oidc: Oidc,
        graph: GraphClient,
        store: Arc<dyn Store>,
        delivery: Delivery,
        tenant: TenantId,
    ) -> anyhow::Result<Self> {
        let sealer = seal::Sealer::new(&config.key)
            .ok_or_else(|| anyhow::anyhow!("the action pages' cookie key could not be made"))?;
        Ok(Self {
            tenant,
            config,
            oidc,
            graph,
            store,
            delivery,
            clock: crate::clock::system(),
            sealer,
        })
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// `__Host-` (Secure, Path=/, no Domain) over https. A plain-http public URL is only accepted
    /// on a loopback host (local runs), where a browser may refuse `Secure`.
    fn cookie_name(&self, which: &str) -> String {
        if self.config.public_url.scheme() == "https" {
            format!("__Host-riskrelay-{which}")
        } else {
            format!("riskrelay-{which}")
        }
    }

    fn set_cookie(
        &self,
        res: &mut Response<Bytes>,
        which: &str,
        value: &str,
        lifetime: time::Duration,
    ) {
        let secure = if self.config.public_url.scheme() == "https" {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            self.cookie_name(which),
            lifetime.whole_seconds().max(0)
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }

    fn cookie(&self, req: &Request<Bytes>, which: &str) -> Option<String> {
        let name = self.cookie_name(which);
        req.headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, v)| *k == name && !v.is_empty())
            .map(|(_, v)| v.to_string())
    }

    fn link(&self, token: &str) -> Result<ActionLink, Problem> {
        let link = ActionLink::verify(token, &self.config.key, self.clock.now())?;
        // A link for another tenant (or an action no longer offered) is not this deployment's.
        if link.tenant != self.tenant || !self.config.actions.contains(&link.action) {
            return Err(Problem::BadLink);
        }
        Ok(link)
    }

    /// The session the request's cookie names: its id (the cookie's digest), and the stored
    /// session with its version when one exists and has not expired.
    async fn session(
        &self,
        req: &Request<Bytes>,
    ) -> Result<Option<(String, Option<(Session, u64)>)>, Problem> {
        let Some(cookie) = self.cookie(req, "actions") else {
            return Ok(None);
        };
        let id = digest(&cookie);
        let stored = store::load::<Session>(
            self.store.as_ref(),
            self.tenant,
            &store::keys::action_session(&id),
        )
        .await
        .map_err(|_| Problem::Unavailable)?;
        let live = stored
            .filter(|s| s.value.expires > self.clock.now())
            .map(|s| (s.value, s.version));
        Ok(Some((id, live)))
    }

    /// Writes the session if it is still at `version` (`None`: not stored yet). `Ok(false)`: a
    /// concurrent request changed it first.
    async fn save_session(
        &self,
        id: &str,
        session: &Session,
        version: Option<u64>,
    ) -> Result<bool, Problem> {
        store::save(
            self.store.as_ref(),
            self.tenant,
            &store::keys::action_session(id),
            session,
            version,
        )
        .await
        .map_err(|_| Problem::Unavailable)
    }

    /// A redirect to Entra for a sign-in, with the sign-in sealed in the browser's cookie.
    fn start_login(
        &self,
        session: &str,
        link: &str,
        purpose: Purpose,
        login_hint: Option<&str>,
    ) -> Result<Response<Bytes>, Problem> {
        let login = Login {
            state: random(RANDOM_BYTES),
            session: session.to_string(),
            link: link.to_string(),
            purpose,
            nonce: random(RANDOM_BYTES),
            verifier: random(RANDOM_BYTES),
            silent: login_hint.is_some(),
            expires: self.clock.now() + LOGIN_LIFETIME,
        };
        let sealed = self
            .sealer
            .seal(LOGIN_SEAL, &login)
            .ok_or(Problem::Unavailable)?;
        let mut res = see_other(&self.oidc.authorize_url(
            &self.config.redirect_uri(),
            &self.scope(),
            &login.state,
            &login.nonce,
            &login.verifier,
            login_hint,
        ));
        self.set_cookie(&mut res, "login", &sealed, LOGIN_LIFETIME);
        Ok(res)
    }

    fn scope(&self) -> String {
        self.oidc.scopes(&scope_names(&self.config))
    }

    async fn show(&self, token: &str, req: &Request<Bytes>) -> Page {
        let link = self.link(token)?;
        if let Some((_, Some((s, _)))) = self.session(req).await?
            && s.link == token
        {
            if let Some(done) = &s.done {
                return Ok(html(StatusCode::OK, pages::done(done)));
            }
            if let Some(analyst) = &s.analyst {
                return Ok(html(
                    StatusCode::OK,
                    pages::confirm(&link, token, analyst, s.live.as_ref(), &s.csrf),
                ));
            }
        }
        Ok(html(
            StatusCode::OK,
            pages::landing(&link, &format!("/actions/signin/{token}")),
        ))
    }

    /// Starts a sign-in for a link. Stores nothing: the session cookie and the sealed sign-in
    /// cookie are all it leaves, in the browser.
    async fn sign_in(&self, token: &str) -> Page {
        self.link(token)?;
        let cookie = random(RANDOM_BYTES);
        let mut res = self.start_login(&digest(&cookie), token, Purpose::SignIn, None)?;
        self.set_cookie(&mut res, "actions", &cookie, SESSION_LIFETIME);
        Ok(res)
    }

    async fn act(&self, token: &str, req: &Request<Bytes>) -> Page {
        self.link(token)?;
        let Some((id, Some((s, _)))) = self.session(req).await? else {
            return Err(Problem::SignInFirst);
        };
        let Some(analyst) = s.analyst.as_ref().filter(|_| s.link == token) else {
            return Err(Problem::SignInFirst);
        };
        let sent = form_urlencoded::parse(req.body())
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if !bool::from(sent.as_bytes().ct_eq(s.csrf.as_bytes())) {
            tracing::warn!(analyst = %analyst.upn, "action form refused: wrong or missing CSRF token");
            return Err(Problem::Csrf);
        }
        // The form was sent again after it acted: show what was done, do nothing.
        if s.done.is_some() {
            return Ok(see_other(&format!("/actions/{token}")));
        }
        if s.claimed(self.clock.now()) {
            return Err(Problem::InProgress);
        }
        self.start_login(&id, token, Purpose::Act, Some(&analyst.upn))
    }

    async fn callback(&self, req: &Request<Bytes>) -> Page {
        let mut res = self.answer(req).await;
        // The sign-in is over, however it went: its sealed cookie goes (`Max-Age=0`), unless
        // the answer started another sign-in and set a new one.
        let restarted = res.as_ref().is_ok_and(|r| {
            r.headers().get_all(header::SET_COOKIE).iter().any(|c| {
                c.to_str()
                    .is_ok_and(|c| c.starts_with(&self.cookie_name("login")))
            })
        });
        if !restarted {
            let clear =
                |r: &mut Response<Bytes>| self.set_cookie(r, "login", "", time::Duration::ZERO);
            match &mut res {
                Ok(r) => clear(r),
                Err(problem) => {
                    let mut page = problem.page();
                    clear(&mut page);
                    return Ok(page);
                }
            }
        }
        res
    }

    async fn answer(&self, req: &Request<Bytes>) -> Page {
        let q: std::collections::HashMap<String, String> =
            form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let state = q.get("state").ok_or(Problem::SignInFailed)?;
        let spent = digest(state);
        let session = self.session(req).await?;
        let login = self
            .cookie(req, "login")
            .and_then(|c| self.sealer.open::<Login>(LOGIN_SEAL, &c))
            .filter(|l| bool::from(l.state.as_bytes().ct_eq(state.as_bytes())));
        let Some(login) = login else {
            // No sign-in of this browser carries that `state`: an answer already taken (its
            // cookie is gone), or one meant for another browser.
            if let Some((_, Some((s, _)))) = &session
                && s.used.contains(&spent)
            {
                tracing::warn!("a sign-in answer came back a second time; refused");
                return Err(Problem::Replayed);
            }
            tracing::warn!("a sign-in answer matched no sign-in of this browser; refused");
            return Err(Problem::SignInFailed);
        };
        if login.expires <= self.clock.now() {
            return Err(Problem::SignInFailed);
        }
        let Some((id, stored)) = session else {
            return Err(Problem::SignInFirst);
        };
        if !bool::from(id.as_bytes().ct_eq(login.session.as_bytes())) {
            tracing::warn!("a sign-in answer came to another browser session; refused");
            return Err(Problem::SignInFailed);
        }
        if stored
            .as_ref()
            .is_some_and(|(s, _)| s.used.contains(&spent))
        {
            tracing::warn!("a sign-in answer came back a second time; refused");
            return Err(Problem::Replayed);
        }
        let link = self.link(&login.link)?;
        if let Some(error) = q.get("error") {
            // A silent request Entra cannot answer (MFA due, the Entra session gone): ask again
            // with the sign-in page.
            let needs_user = matches!(
                error.as_str(),
                "login_required" | "interaction_required" | "consent_required"
            );
            if login.silent && needs_user && login.purpose == Purpose::Act {
                return self.start_login(&id, &login.link, Purpose::Act, None);
            }
            tracing::warn!(error = %crate::render::escape::truncate(&crate::render::escape::single_line(error), 64), "sign-in answered with an error");
            return Err(Problem::SignInFailed);
        }
        let code = q.get("code").ok_or(Problem::SignInFailed)?;
        // Before anything is stored: Entra takes each code once, and only a real sign-in gets
        // one, so nothing below can be reached by a forged answer.
        let signed = self
            .oidc
            .redeem(
                code,
                &login.verifier,
                &self.config.redirect_uri(),
                &self.scope(),
                &login.nonce,
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "sign-in could not be completed");
                Problem::SignInFailed
            })?;
        let analyst = signed.analyst;
        let token = signed.access_token;
        if let Some(group) = self.config.group {
            let member = self
                .graph
                .analyst_in_group(&token, group)
                .await
                .map_err(|e| graph_problem(&e, link.action))?;
            if !member {
                tracing::warn!(analyst = %analyst.upn, "analyst not in the action group; refused");
                return Err(Problem::NotInGroup);
            }
        }
        match login.purpose {
            Purpose::SignIn => {
                let live = self
                    .graph
                    .risky_user_as(&token, link.user)
                    .await
                    .map_err(|e| graph_problem(&e, link.action))?;
                tracing::info!(analyst = %analyst.upn, action = link.action.name(), user = %link.user, "analyst signed in on an action page");
                let (mut used, version) = match stored {
                    Some((s, v)) => (s.used, Some(v)),
                    None => (Vec::new(), None),
                };
                used.push(spent);
                let session = Session {
                    link: login.link.clone(),
                    analyst: Some(analyst),
                    csrf: random(RANDOM_BYTES),
                    live,
                    done: None,
                    acting: None,
                    used,
                    expires: self.clock.now() + SESSION_LIFETIME,
                };
                if !self.save_session(&id, &session, version).await? {
                    return Err(Problem::Replayed);
                }
                Ok(see_other(&format!("/actions/{}", session.link)))
            }
            Purpose::Act => {
                let Some((mut session, version)) = stored else {
                    return Err(Problem::SignInFirst);
                };
                if session.analyst.as_ref().map(|a| a.oid) != Some(analyst.oid) {
                    return Err(Problem::WrongAnalyst);
                }
                if session.done.is_some() {
                    return Ok(see_other(&format!("/actions/{}", session.link)));
                }
                if session.claimed(self.clock.now()) {
                    return Err(Problem::InProgress);
                }
                // The session's one action is claimed with a conditional write: of concurrent
                // or repeated submissions, one acts.
                session.acting = Some(self.clock.now());
                session.used.push(spent);
                if !self.save_session(&id, &session, Some(version)).await? {
                    return match self.session(req).await? {
                        Some((_, Some((s, _)))) if s.done.is_some() => {
                            Ok(see_other(&format!("/actions/{}", s.link)))
                        }
                        _ => Err(Problem::InProgress),
                    };
                }
                let version = version + 1;
                let taken = self
                    .take(&link, &analyst, &token, session.live.as_ref(), &id)
                    .await;
                session.acting = None;
                let notice = match taken {
                    Ok(n) => n,
                    Err(problem) => {
                        // Nothing was done: the claim is released so the analyst may try again.
                        let _ = self.save_session(&id, &session, Some(version)).await;
                        return Err(problem);
                    }
                };
                session.done = Some(notice.clone());
                // Done is done: if the session cannot record it, say so on this answer rather
                // than hide a change that happened behind an error page.
                if !matches!(
                    self.save_session(&id, &session, Some(version)).await,
                    Ok(true)
                ) {
                    return Ok(html(StatusCode::OK, pages::done(&notice)));
                }
                Ok(see_other(&format!("/actions/{}", session.link)))
            }
        }
    }

    /// Takes the action with the analyst's token, records it and tells every destination once.
    async fn take(
        &self,
        link: &ActionLink,
        analyst: &Analyst,
        token: &secrecy::SecretString,
        live: Option<&RiskyUser>,
        session: &str,
    ) -> Result<ActionNotice, Problem> {
        let now = self.clock.now();
        let user = live
            .and_then(|u| {
                u.user_principal_name
                    .clone()
                    .or(u.user_display_name.clone())
            })
            .unwrap_or_else(|| link.user.to_string());
        if link.action == ActionKind::Snooze {
            let s = crate::snooze::new(
                &link.user.to_string(),
                time::Duration::days(7),
                &format!(
                    "snoozed from the alert (ref {})",
                    crate::render::short_ref(&link.alert_key)
                ),
                &analyst.upn,
                live.map(|u| u.risk_level.clone()),
                now,
            )
            .map_err(|_| Problem::BadLink)?;
            crate::features::snooze::update(self.store.as_ref(), self.tenant, |b| b.add(s.clone()))
                .await
                .map_err(|_| Problem::Unavailable)?;
        } else {
            self.graph
                .act_as(token, link.action, link.user)
                .await
                .map_err(|e| graph_problem(&e, link.action))?;
        }
        tracing::info!(analyst = %analyst.upn, action = link.action.name(), user = %link.user, "action taken from an alert");
        let notice = ActionNotice {
            // One per session (a session acts once): a retried delivery of it posts once.
            key: format!(
                "action/{}/{}/{}/{}",
                self.tenant,
                link.user,
                link.action.name(),
                &session[..16]
            ),
            tenant_id: self.tenant,
            user_id: link.user,
            user,
            action: link.action,
            by: analyst.upn.clone(),
            at: now,
            alert_key: link.alert_key.clone(),
        };
        if let Err(e) = taken::record(self.store.as_ref(), self.tenant, &notice, now).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "the action was taken but not recorded; the next alert about the user will not mention it"
            );
        }
        // A snooze is announced by the next poll cycle, like one from the command line.
        if link.action != ActionKind::Snooze {
            let report = self
                .delivery
                .deliver(&[Message::Action(notice.clone())], now)
                .await;
            for f in report.failures {
                tracing::warn!(sink = %f.sink, error = %f.error, "the follow-up message was not posted");
            }
        }
        Ok(notice)
    }
}

/// A 403 from Graph with the analyst's token: which call it refused says what is missing.
fn graph_problem(e: &GraphError, action: ActionKind) -> Problem {
    use crate::graph::Feature;
    match e {
        GraphError::Forbidden {
            feature: Feature::AnalystRead,
            ..
        } => Problem::NeedsReadRole,
        GraphError::Forbidden {
            feature: Feature::AnalystGroups,
            ..
        } => Problem::GroupCheckRefused,
        GraphError::Forbidden { .. } => Problem::NeedsRole(action),
        other => {
            tracing::warn!(error = %other, "Graph call with the analyst's token failed");
            Problem::GraphFailed
        }
    }
}

#[async_trait::async_trait]
impl crate::server::HttpApp for ActionsApp {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let path = req.uri().path().to_string();
        let result = match (req.method(), path.as_str()) {
            (&Method::GET, "/actions/style.css") => {
                let mut res = Response::new(Bytes::from_static(pages::STYLE.as_bytes()));
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/css; charset=utf-8"),
                );
                Ok(res)
            }
            (&Method::GET, "/actions/callback") => self.callback(&req).await,
            (&Method::GET, p) if p.starts_with("/actions/signin/") => {
                self.sign_in(&p["/actions/signin/".len()..]).await
            }
            (&Method::GET, p) if p.starts_with("/actions/") => {
                self.show(&p["/actions/".len()..], &req).await
            }
            (&Method::POST, p) if p.starts_with("/actions/") => {
                self.act(&p["/actions/".len()..], &req).await
            }
            _ => Err(Problem::NotFound),
        };
        let res = result.unwrap_or_else(Problem::page);
        secure(res, &self.oidc.authority_origin())
    }
}
