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
//!
//! The status page (`GET /status`, [`status`]) uses the same sign-in with a session of its own,
//! for a reader rather than an action. Slack's interactivity Request URL ([`slack`]) acknowledges
//! the clicks on the buttons of Slack messages, so Slack shows no warning for them.

mod act;
pub mod oidc;
pub mod pages;
mod problem;
pub mod seal;
pub mod slack;
mod status;
pub mod taken;
pub mod tenants;

use crate::action_link::{ActionKind, ActionLink, ActionsConfig};
use crate::alert::ActionNotice;
use crate::clock::Clock;
use crate::deliver::Delivery;
use crate::graph::GraphClient;
use crate::ids::TenantId;
use crate::risk::RiskyUser;
use crate::store::{self, Store};
use crate::workload::{RiskyWorkload, WorkloadKind};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use oidc::{Analyst, Oidc, digest, random};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

use problem::{Page, Problem, graph_problem, html, secure, see_other};

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

/// Delegated permissions a sign-in for a link asks for. For a user: reading and changing user
/// risk always, and revoking sessions when configured. For a workload identity: reading and
/// changing its kind's risk, and `Application.ReadWrite.All` (Graph's least privileged for
/// updating a service principal) only on a link that disables one. With an action group, the
/// analyst's own group memberships (`/me/checkMemberGroups`, for which Graph names `User.Read`
/// the least privileged permission).
fn scope_names(config: &ActionsConfig, link: Option<&ActionLink>) -> Vec<&'static str> {
    let mut names = match link.and_then(|l| l.workload.map(|w| (w, l.action))) {
        None => {
            let mut names = vec!["IdentityRiskyUser.ReadWrite.All"];
            if config.actions.contains(&ActionKind::Revoke) {
                names.push("User.RevokeSessions.All");
            }
            names
        }
        Some((WorkloadKind::ServicePrincipal, action)) => {
            let mut names = vec!["IdentityRiskyServicePrincipal.ReadWrite.All"];
            if action == ActionKind::Disable {
                names.push("Application.ReadWrite.All");
            }
            names
        }
        Some((WorkloadKind::Agent, _)) => vec!["IdentityRiskyAgent.ReadWrite.All"],
    };
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
    /// A workload identity's risk as the analyst's sign-in read it, for its links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    live_workload: Option<RiskyWorkload>,
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

    /// The subject's risk as the sign-in read it.
    fn live_risk(&self, link: &ActionLink) -> pages::Live<'_> {
        match link.workload {
            Some(kind) => pages::Live::Workload(kind, self.live_workload.as_ref()),
            None => pages::Live::User(self.live.as_ref()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Purpose {
    SignIn,
    Act,
    /// The status page (`GET /status`): a reader, not an action.
    Status,
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
        // A link for another tenant (or an action no longer offered, or not one its subject
        // takes) is not this deployment's.
        if link.tenant != self.tenant
            || !self.config.actions.contains(&link.action)
            || !ActionKind::offered(link.workload).contains(&link.action)
        {
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
            // The tenant first: in a deployment that watches many, the answer finds its tenant's
            // pages by it (see [`tenants`]); the sealed cookie still decides whether it is this
            // sign-in's.
            state: format!("{}.{}", self.tenant, random(RANDOM_BYTES)),
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
            &self.scope(purpose, link),
            &login.state,
            &login.nonce,
            &login.verifier,
            login_hint,
        ));
        self.set_cookie(&mut res, "login", &sealed, LOGIN_LIFETIME);
        Ok(res)
    }

    /// The delegated permissions a sign-in for `link` asks for: the status page needs none but
    /// `User.Read` for its group check, when it has one.
    fn scope(&self, purpose: Purpose, link: &str) -> String {
        match purpose {
            Purpose::Status if self.config.status_group.is_some() => {
                self.oidc.scopes(&["User.Read"])
            }
            Purpose::Status => self.oidc.scopes(&[]),
            Purpose::SignIn | Purpose::Act => {
                let link = self.link(link).ok();
                self.oidc.scopes(&scope_names(&self.config, link.as_ref()))
            }
        }
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
                    pages::confirm(&link, token, analyst, &s.live_risk(&link), &s.csrf),
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
}

#[async_trait::async_trait]
impl crate::server::HttpApp for ActionsApp {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let path = req.uri().path().to_string();
        let result = match (req.method(), path.as_str()) {
            (&Method::GET, "/actions/style.css") => Ok(pages::stylesheet()),
            (&Method::GET, "/actions/callback") => self.callback(&req).await,
            (&Method::GET, "/status") => self.status(&req).await,
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
