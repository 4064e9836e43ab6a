//! The action pages of a deployment that watches many tenants (`RISKRELAY_TENANTS=registry`):
//! each tenant has pages of its own ([`ActionsApp`]) that sign the analyst in at that tenant's
//! authority, check the ID token's `tid`, act with that tenant's delegated token and tell that
//! tenant's destinations. This router only finds them: by the signed link's tenant, and for
//! Entra's answer by the tenant its `state` starts with. Whichever pages it picks, they check the
//! link, the sealed sign-in and the token themselves, so a wrong pick refuses; it never acts.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response};

use super::problem::{Problem, secure};
use super::{ActionsApp, pages};
use crate::action_link::{ActionLink, LinkKey};
use crate::clock::Clock;
use crate::ids::TenantId;

/// Where each tenant's pages come from (the fleet, which builds a tenant's parts when first
/// needed).
#[async_trait::async_trait]
pub trait PagesOf: Send + Sync {
    /// `Ok(None)`: the deployment does not watch the tenant (any more).
    async fn pages(&self, tenant: TenantId) -> anyhow::Result<Option<Arc<ActionsApp>>>;
}

/// A tenant's pages are looked up again after this long: reading which tenants are watched reads
/// the whole registry, too much for every page, and a tenant removed keeps its links working
/// this long at most (Entra decides whether they may act anyway).
const REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

type Cached = (std::time::Instant, Option<Arc<ActionsApp>>);

pub struct TenantPages {
    key: LinkKey,
    cache: tokio::sync::Mutex<std::collections::HashMap<TenantId, Cached>>,
    clock: Arc<dyn Clock>,
    /// The sign-in's origin, for the Content-Security-Policy of the pages answered here.
    authority_origin: String,
    tenants: Arc<dyn PagesOf>,
}

impl TenantPages {
    pub fn new(
        key: LinkKey,
        authority: &url::Url,
        clock: Arc<dyn Clock>,
        tenants: Arc<dyn PagesOf>,
    ) -> Self {
        Self {
            key,
            cache: Default::default(),
            clock,
            authority_origin: authority.origin().ascii_serialization(),
            tenants,
        }
    }

    /// Which tenant's pages answer `req`.
    fn tenant_of(&self, req: &Request<Bytes>) -> Result<TenantId, Problem> {
        let path = req.uri().path();
        if path == "/actions/callback" {
            let state = form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            return state
                .split_once('.')
                .and_then(|(tenant, _)| TenantId::parse(tenant).ok())
                .ok_or(Problem::SignInFailed);
        }
        let token = path
            .strip_prefix("/actions/signin/")
            .or_else(|| path.strip_prefix("/actions/"))
            .ok_or(Problem::NotFound)?;
        Ok(ActionLink::verify(token, &self.key, self.clock.now())?.tenant)
    }

    async fn route(&self, req: Request<Bytes>) -> Result<Response<Bytes>, Problem> {
        let path = req.uri().path();
        if req.method() == Method::GET && path == "/actions/style.css" {
            return Ok(pages::stylesheet());
        }
        if path == "/status" || path.starts_with("/status/") {
            // The status page shows one tenant's state to a reader of that tenant; with many,
            // `riskrelay status --tenant` does.
            return Err(Problem::NotFound);
        }
        let tenant = self.tenant_of(&req)?;
        let Some(pages) = self.pages(tenant).await? else {
            tracing::warn!(%tenant, "an action link or sign-in for a tenant this deployment does not watch; refused");
            return Err(Problem::BadLink);
        };
        Ok(crate::server::HttpApp::handle(pages.as_ref(), req).await)
    }
}

impl TenantPages {
    async fn pages(&self, tenant: TenantId) -> Result<Option<Arc<ActionsApp>>, Problem> {
        let mut cache = self.cache.lock().await;
        if let Some((at, pages)) = cache.get(&tenant)
            && at.elapsed() < REFRESH
        {
            return Ok(pages.clone());
        }
        let pages = self.tenants.pages(tenant).await.map_err(|e| {
            tracing::warn!(error = format!("{e:#}"), %tenant, "a tenant's action pages could not be built");
            Problem::Unavailable
        })?;
        cache.insert(tenant, (std::time::Instant::now(), pages.clone()));
        Ok(pages)
    }
}

#[async_trait::async_trait]
impl crate::server::HttpApp for TenantPages {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        match self.route(req).await {
            Ok(res) => res,
            Err(problem) => secure(problem.page(), &self.authority_origin),
        }
    }
}
