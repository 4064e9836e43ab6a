//! The Entra admin center of a tenant's cloud, and the pages an alert's links lead to there. Every
//! URL is built from parsed GUIDs only: no text from Graph reaches a link.

use serde::{Deserialize, Serialize};

use crate::ids::TenantId;

/// The Entra admin center of the tenant's cloud, where an alert's links lead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AdminCenter {
    #[default]
    Global,
    /// GCC High and DoD share one admin center.
    UsGov,
}

impl AdminCenter {
    fn root(self) -> &'static str {
        match self {
            Self::Global => "https://entra.microsoft.com",
            Self::UsGov => "https://entra.microsoft.us",
        }
    }

    /// The user's page. The tenant in the path opens the right directory for an administrator
    /// who can switch between several. Built from parsed GUIDs only: no user text reaches a URL.
    pub fn user_url(self, tenant: TenantId, user: crate::ids::UserId) -> String {
        format!(
            "{}/{tenant}/#view/Microsoft_AAD_UsersAndTenants/UserProfileMenuBlade/~/overview/userId/{user}",
            self.root()
        )
    }

    /// A service principal's page (Enterprise applications), when its ids are GUIDs: nothing
    /// Graph sent reaches a URL unparsed.
    pub fn service_principal_url(
        self,
        tenant: TenantId,
        id: &str,
        app_id: Option<&str>,
    ) -> Option<String> {
        let id = uuid::Uuid::parse_str(id).ok()?;
        let app = app_id.and_then(|a| uuid::Uuid::parse_str(a).ok())?;
        Some(format!(
            "{}/{tenant}/#view/Microsoft_AAD_IAM/ManagedAppMenuBlade/~/Overview/objectId/{id}/appId/{app}",
            self.root()
        ))
    }

    /// ID Protection's report of risky workload identities (service principals), or, for an
    /// agent, ID Protection's overview.
    pub fn risky_workloads_url(
        self,
        tenant: TenantId,
        kind: crate::workload::WorkloadKind,
    ) -> String {
        let blade = match kind {
            crate::workload::WorkloadKind::ServicePrincipal => "RiskyServicePrincipals",
            crate::workload::WorkloadKind::Agent => "Overview",
        };
        format!(
            "{}/{tenant}/#view/Microsoft_AAD_IAM/IdentityProtectionMenuBlade/~/{blade}",
            self.root()
        )
    }

    /// ID Protection's risky users report (the portal offers no per-user risk page to link to).
    pub fn risky_users_url(self, tenant: TenantId) -> String {
        format!(
            "{}/{tenant}/#view/Microsoft_AAD_IAM/IdentityProtectionMenuBlade/~/RiskyUsers",
            self.root()
        )
    }
}
