//! What the directory says about a risky workload identity (who owns it, which credential a
//! detection names, what it can reach), and what the team can do about it.
//!
//! The steps follow Microsoft's guidance for compromised workload identities (ID Protection's
//! "Securing workload identities", and the incident-response playbook for compromised and
//! malicious applications; sources in docs/workload-identities.md): a workload identity cannot
//! remediate itself, so a person rotates or removes the credential, reviews what it did, disables
//! it if it must stop now, and then confirms or dismisses the risk.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{RiskyWorkload, WorkloadDetection, WorkloadKind};
use crate::ids::TenantId;

/// A password (client secret) or key (certificate) credential of the app or service principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub key_id: String,
    /// "client secret" or "certificate".
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub start: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub end: Option<OffsetDateTime>,
}

/// The service principal behind an alert, as `$batch` read it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// The tenant that published the app (`appOwnerOrganizationId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_organization: Option<TenantId>,
    /// The credentials the alert's detections name (`keyIds`), as far as the directory has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named_credentials: Vec<Credential>,
    /// Key ids the detections name that neither the service principal nor its app holds (an
    /// app published elsewhere keeps its credentials in its home tenant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmatched_key_ids: Vec<String>,
    /// Owners, by name (who to call).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// Microsoft Graph application permissions granted to it, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub graph_permissions: Vec<String>,
    /// Application permissions on other APIs: counted, not named.
    #[serde(default)]
    pub other_permissions: usize,
    /// Entra directory roles it holds, by name, with whether each is privileged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directory_roles: Vec<(String, bool)>,
}

impl WorkloadContext {
    /// Published by another organisation: its credentials live in the publisher's tenant.
    pub fn is_foreign(&self, tenant: TenantId) -> bool {
        self.owner_organization.is_some_and(|o| o != tenant)
    }

    /// The Graph permissions that can take over the tenant or reach its data at scale.
    pub fn privileged_permissions(&self) -> Vec<&str> {
        self.graph_permissions
            .iter()
            .map(String::as_str)
            .filter(|p| privileged_graph_permission(p))
            .collect()
    }

    pub fn privileged_roles(&self) -> Vec<&str> {
        self.directory_roles
            .iter()
            .filter(|(_, p)| *p)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Matches the detections' key ids to credentials the directory listed.
    pub fn name_credentials(&mut self, detections: &[WorkloadDetection], all: &[Credential]) {
        let mut wanted: Vec<&str> = detections
            .iter()
            .flat_map(|d| d.key_ids.iter().map(String::as_str))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for id in wanted {
            match all.iter().find(|c| c.key_id.eq_ignore_ascii_case(id)) {
                Some(c) => self.named_credentials.push(c.clone()),
                None => self.unmatched_key_ids.push(id.to_string()),
            }
        }
    }
}

/// Microsoft Graph application permissions that let an app take over the tenant (grant itself
/// roles or permissions, add credentials to other apps, change policy) or read and write mail,
/// files and directory data across the organisation.
const PRIVILEGED_GRAPH_PERMISSIONS: &[&str] = &[
    "RoleManagement.ReadWrite.Directory",
    "AppRoleAssignment.ReadWrite.All",
    "Application.ReadWrite.All",
    "Directory.ReadWrite.All",
    "User.ReadWrite.All",
    "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "Policy.ReadWrite.ConditionalAccess",
    "Policy.ReadWrite.AuthenticationMethod",
    "Domain.ReadWrite.All",
    "Mail.ReadWrite",
    "Mail.Send",
    "Files.ReadWrite.All",
    "Sites.ReadWrite.All",
    "Sites.FullControl.All",
];

pub fn privileged_graph_permission(name: &str) -> bool {
    PRIVILEGED_GRAPH_PERMISSIONS
        .iter()
        .any(|p| p.eq_ignore_ascii_case(name))
}

/// Directory roles that administer identities, apps, security or whole workloads, by template id
/// (fixed across tenants).
const PRIVILEGED_ROLES: &[&str] = &[
    "62e90394-69f5-4237-9190-012177145e10", // Global Administrator
    "e8611ab8-c189-46e8-94e1-60213ab1f814", // Privileged Role Administrator
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13", // Privileged Authentication Administrator
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", // Application Administrator
    "158c047a-c907-4556-b7ef-446551a6b5f7", // Cloud Application Administrator
    "194ae4cb-b126-40b2-bd5b-6091b380977d", // Security Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1", // User Administrator
    "c4e39bd9-1100-46d3-8c65-fb160da0071f", // Authentication Administrator
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", // Conditional Access Administrator
    "29232cdf-9323-42fd-ade2-1d097af3e4de", // Exchange Administrator
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c", // SharePoint Administrator
    "3a2c62db-5318-420d-8d74-23affee5d9d5", // Intune Administrator
];

pub fn privileged_role(template_id: &str) -> bool {
    PRIVILEGED_ROLES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(template_id.trim()))
}

/// What the team can do about an ongoing risk, in order.
pub fn steps(
    tenant: TenantId,
    w: &RiskyWorkload,
    context: Option<&WorkloadContext>,
) -> Vec<String> {
    let noun = w.kind.noun();
    let article = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "An"
    } else {
        "A"
    };
    let mut out = vec![format!(
        "{article} {noun} cannot remediate its own risk: a person has to act on it."
    )];
    let foreign = context.is_some_and(|c| c.is_foreign(tenant));
    if foreign {
        out.push(
            "It belongs to an app another organisation publishes: its credentials are not in this tenant. Disable the service principal here if it must stop now, and contact the publisher.".into(),
        );
    } else {
        let named: Vec<String> = context
            .map(|c| {
                c.named_credentials
                    .iter()
                    .map(|k| match &k.display_name {
                        Some(n) => format!("{} \"{n}\"", k.kind),
                        None => format!("{} {}", k.kind, k.key_id),
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(if named.is_empty() {
            "Review its credentials: rotate or remove any secret or certificate that may have leaked, and prefer a managed identity or workload identity federation.".into()
        } else {
            format!(
                "Rotate or remove the credential the detection names ({}).",
                named.join(", ")
            )
        });
        let action = match w.kind {
            WorkloadKind::ServicePrincipal => "disable the service principal",
            WorkloadKind::Agent => "disable the agent identity",
        };
        out.push(format!("If it must stop now, {action} (sign-ins stop; existing tokens run out within the hour)."));
    }
    out.push(format!(
        "Review its sign-ins (service principal sign-ins) and the audit log for what it and its owners changed recently{}.",
        if context.is_some_and(|c| !c.privileged_permissions().is_empty() || !c.privileged_roles().is_empty()) {
            ", starting with what its privileged permissions allow"
        } else {
            ""
        }
    ));
    out.push(match w.kind {
        WorkloadKind::ServicePrincipal => "Then confirm it compromised or dismiss the risk in ID Protection, so its risk reflects what you found.".into(),
        WorkloadKind::Agent => "Then confirm it compromised, or confirm it safe, in ID Protection, so its risk reflects what you found.".into(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::{RiskDetail, RiskLevel, RiskState};

    fn workload() -> RiskyWorkload {
        RiskyWorkload {
            kind: WorkloadKind::ServicePrincipal,
            id: "sp-1".into(),
            app_id: None,
            display_name: Some("Build pipeline".into()),
            workload_type: None,
            is_enabled: Some(true),
            risk_level: RiskLevel::High,
            risk_state: RiskState::AtRisk,
            risk_detail: RiskDetail::None,
            risk_last_updated: None,
        }
    }

    #[test]
    fn the_named_credential_is_matched_and_a_foreign_app_is_sent_to_its_publisher() {
        let tenant = TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap();
        let mut c = WorkloadContext {
            graph_permissions: vec!["User.Read.All".into(), "Application.ReadWrite.All".into()],
            directory_roles: vec![
                ("Reports Reader".into(), false),
                ("Global Administrator".into(), true),
            ],
            ..Default::default()
        };
        let secret = Credential {
            key_id: "AAAA-1".into(),
            kind: "client secret".into(),
            display_name: Some("ci-deploy".into()),
            start: None,
            end: None,
        };
        let mut d = super::super::read_detection(
            WorkloadKind::ServicePrincipal,
            &serde_json::json!({"id": "d", "servicePrincipalId": "sp-1", "keyIds": ["aaaa-1", "gone"]}),
        )
        .unwrap();
        d.risk_state = RiskState::AtRisk;
        c.name_credentials(&[d], &[secret]);
        assert_eq!(c.named_credentials.len(), 1);
        assert_eq!(c.unmatched_key_ids, vec!["gone".to_string()]);
        assert_eq!(c.privileged_permissions(), ["Application.ReadWrite.All"]);
        assert_eq!(c.privileged_roles(), ["Global Administrator"]);
        let s = steps(tenant, &workload(), Some(&c));
        assert!(s[1].contains("client secret \"ci-deploy\""), "{s:?}");
        assert!(s[3].contains("privileged permissions"));

        c.owner_organization = TenantId::parse("99999999-2222-3333-4444-555555555555").ok();
        let s = steps(tenant, &workload(), Some(&c));
        assert!(s[1].contains("contact the publisher"), "{s:?}");
        assert!(!s.iter().any(|l| l.contains("Rotate")));
    }

    #[test]
    fn privileged_is_decided_by_name_and_template_id() {
        assert!(privileged_graph_permission(
            "roleManagement.readWrite.directory"
        ));
        assert!(!privileged_graph_permission("User.Read.All"));
        assert!(privileged_role("62E90394-69F5-4237-9190-012177145E10"));
        assert!(!privileged_role("4a5d8f65-41da-4de4-8968-e035b65339cf"));
    }
}
