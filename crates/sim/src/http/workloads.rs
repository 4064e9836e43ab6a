//! Workload identities over HTTP: the risky service principal (v1.0) and agent (beta) lists and
//! their detections, with `$filter` and paging as the other lists; one risky record; and the
//! directory reads riskrelay's context makes in `$batch` (a service principal, its owners, app
//! role assignments and directory roles, Microsoft Graph's app roles, an app's credentials).

use riskrelay::workload::WorkloadKind;

use super::*;
use crate::workloads::{GRAPH_SP_ID, role_id};

impl SimApp {
    pub(super) fn risky_workload(&self, kind: WorkloadKind, id: &str) -> Response<Bytes> {
        let found = self
            .lock()
            .workloads
            .risky
            .iter()
            .find(|(k, v)| *k == kind && v.get("id").and_then(Value::as_str) == Some(id))
            .map(|(_, v)| v.clone());
        match found {
            Some(v) => reply(StatusCode::OK, v),
            None => error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "The requested resource was not found.",
            ),
        }
    }

    /// `servicePrincipals/{id}` and its navigation properties; `servicePrincipals(appId='…')`.
    pub(super) fn service_principal(&self, ctx: &Ctx, segments: &[&str]) -> Response<Bytes> {
        let s = self.lock();
        let not_found = || {
            error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                "Resource does not exist or one of its queried reference-property objects are not present.",
            )
        };
        let head = segments[0];
        if let Some(app) = head
            .strip_prefix("servicePrincipals(appId='")
            .and_then(|r| r.strip_suffix("')"))
        {
            if app != "00000003-0000-0000-c000-000000000000" {
                return not_found();
            }
            let mut names: Vec<&str> = s
                .workloads
                .service_principals
                .values()
                .flat_map(|sp| sp.graph_permissions.iter().map(String::as_str))
                .collect();
            names.extend(["User.Read.All", "Application.ReadWrite.All", "Mail.Read"]);
            names.sort_unstable();
            names.dedup();
            let roles: Vec<Value> = names
                .iter()
                .map(|n| json!({"id": role_id(n), "value": n, "allowedMemberTypes": ["Application"]}))
                .collect();
            return reply(
                StatusCode::OK,
                json!({"id": GRAPH_SP_ID, "appRoles": roles}),
            );
        }
        if let Some(app) = head
            .strip_prefix("applications(appId='")
            .and_then(|r| r.strip_suffix("')"))
        {
            let Some(sp) = s
                .workloads
                .service_principals
                .values()
                .find(|sp| sp.app_id == app && sp.publisher.is_none())
            else {
                return not_found();
            };
            let secrets: Vec<Value> = sp
                .secrets
                .iter()
                .map(|(k, n)| json!({"keyId": k, "displayName": n, "startDateTime": "2026-01-10T09:00:00Z", "endDateTime": "2027-01-10T09:00:00Z", "hint": "abc"}))
                .collect();
            return reply(
                StatusCode::OK,
                json!({"passwordCredentials": secrets, "keyCredentials": []}),
            );
        }
        let Some(id) = segments.get(1) else {
            return not_found();
        };
        let Some(sp) = s.workloads.service_principals.get(*id) else {
            return not_found();
        };
        let tenant = s.config.tenant_id;
        match &segments[2..] {
            [] => {
                let v = json!({
                    "id": sp.id, "appId": sp.app_id, "displayName": sp.display_name,
                    "servicePrincipalType": "Application", "accountEnabled": true,
                    "appOwnerOrganizationId": sp.publisher.unwrap_or(tenant).to_string(),
                    "passwordCredentials": [], "keyCredentials": [],
                });
                let select: Option<Vec<&str>> =
                    ctx.query.get("$select").map(|s| s.split(',').collect());
                reply(
                    StatusCode::OK,
                    self.present(v, ctx.prefer, select.as_deref()),
                )
            }
            ["owners"] => reply(
                StatusCode::OK,
                json!({"value": sp.owners.iter().map(|(n, u)| json!({"@odata.type": "#microsoft.graph.user", "id": "00000000-0000-4000-8000-0000000000aa", "displayName": n, "userPrincipalName": u})).collect::<Vec<_>>()}),
            ),
            ["appRoleAssignments"] => reply(
                StatusCode::OK,
                json!({"value": sp.graph_permissions.iter().map(|p| json!({"resourceId": GRAPH_SP_ID, "appRoleId": role_id(p)})).collect::<Vec<_>>()}),
            ),
            ["transitiveMemberOf", "microsoft.graph.directoryRole"] => reply(
                StatusCode::OK,
                json!({"value": sp.roles.iter().map(|(n, t)| json!({"displayName": n, "roleTemplateId": t})).collect::<Vec<_>>()}),
            ),
            _ => not_found(),
        }
    }
}
