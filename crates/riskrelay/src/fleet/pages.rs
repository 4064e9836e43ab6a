//! Each tenant's action pages: the one tenant's in the `config` mode, or the router to each
//! registered tenant's, which builds them when first needed (see [`crate::actions::tenants`]).

use std::sync::Arc;

use async_trait::async_trait;

use super::Fleet;
use crate::ids::TenantId;

impl<P: crate::app::Pages> Fleet<P> {
    /// The action pages: the one tenant's, or in the MSP mode the router to each tenant's.
    /// `None` when no action is configured.
    pub fn action_pages(self: &Arc<Self>) -> Option<Arc<dyn crate::server::HttpApp>> {
        if let Some(app) = &self.single {
            return app
                .pages()
                .map(|p| p.clone() as Arc<dyn crate::server::HttpApp>);
        }
        let config = self.base.actions.as_ref()?;
        Some(Arc::new(crate::actions::tenants::TenantPages::new(
            config.key.clone(),
            &self.base.graph.authority_host,
            self.clock.clone(),
            self.clone(),
        )))
    }
}

/// Each tenant's action pages, for the router of a deployment that watches many.
#[async_trait]
impl<P: crate::app::Pages> crate::actions::tenants::PagesOf for Fleet<P> {
    async fn pages(
        &self,
        tenant: TenantId,
    ) -> anyhow::Result<Option<Arc<crate::actions::ActionsApp>>> {
        Ok(self.app(tenant).await?.and_then(|p| p.pages().cloned()))
    }
}
