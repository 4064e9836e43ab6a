//! Workload identities over HTTP: the risky service principal (v1.0) and agent (beta) lists and
//! their detections, with `$filter` and paging as the other lists; one risky record; and the
//! directory reads riskrelay's context makes in `$batch` (a service principal, its owners, app
//! role assignments and directory roles, Microsoft Graph's app roles, an app's credentials).

use riskrelay::risk::{RiskDetail, RiskLevel, RiskState};
use riskrelay::workload::WorkloadKind;

use super::*;
use crate::signin::{
    CLOUD_APPLICATION_ADMINISTRATOR, SECURITY_ADMINISTRATOR, SECURITY_OPERATOR, SECURITY_READER,
};
use crate::workloads::{GRAPH_SP_ID, role_id};

/// The delegated permission that reads and changes a kind's risk.
fn read_write_scope(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::ServicePrincipal => "IdentityRiskyServicePrincipal.ReadWrite.All",
        WorkloadKind::Agent => "IdentityRiskyAgent.ReadWrite.All",
    }
}

impl SimApp {
    pub(super) fn risky_workload(
        &self,
        ctx: &Ctx,
        kind: WorkloadKind,
        id: &str,
    ) -> Response<Bytes> {
        if let signin::Caller::Analyst(_) = ctx.caller {
            let read = match kind {
                WorkloadKind::ServicePrincipal => "IdentityRiskyServicePrincipal.Read.All",
                WorkloadKind::Agent => "IdentityRiskyAgent.Read.All",
            };
            if let Some(denied) = self.denied(
                ctx,
                &[read, read_write_scope(kind)],
                &[SECURITY_OPERATOR, SECURITY_READER, SECURITY_ADMINISTRATOR],
            ) {
                return denied;
            }
        }
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
                    "servicePrincipalType": "Application", "accountEnabled": sp.enabled,
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

    /// `POST …/riskyServicePrincipals/{confirmCompromised|dismiss}` (`servicePrincipalIds`) and
    /// `POST beta …/riskyAgents/{confirmCompromised|confirmSafe|dismiss}` (`agentIds`): Graph
    /// names Security Administrator the least privileged role for each.
    pub(super) fn workload_risk_action(
        &self,
        ctx: &Ctx,
        kind: WorkloadKind,
        action: &str,
    ) -> Response<Bytes> {
        if let Some(res) = self.denied(ctx, &[read_write_scope(kind)], &[SECURITY_ADMINISTRATOR]) {
            return res;
        }
        let member = match kind {
            WorkloadKind::ServicePrincipal => "servicePrincipalIds",
            WorkloadKind::Agent => "agentIds",
        };
        let Some(ids) = signin::ids_in(&ctx.body, member) else {
            return signin::ids_required(member);
        };
        let (level, state, detail) = match (kind, action) {
            (WorkloadKind::ServicePrincipal, "confirmCompromised") => (
                RiskLevel::High,
                RiskState::ConfirmedCompromised,
                RiskDetail::AdminConfirmedServicePrincipalCompromised,
            ),
            (WorkloadKind::ServicePrincipal, _) => (
                RiskLevel::None,
                RiskState::Dismissed,
                RiskDetail::AdminDismissedAllRiskForServicePrincipal,
            ),
            (WorkloadKind::Agent, "confirmCompromised") => (
                RiskLevel::High,
                RiskState::ConfirmedCompromised,
                RiskDetail::AdminConfirmedAgentCompromised,
            ),
            (WorkloadKind::Agent, "confirmSafe") => (
                RiskLevel::None,
                RiskState::Dismissed,
                RiskDetail::AdminConfirmedAgentSafe,
            ),
            (WorkloadKind::Agent, _) => (
                RiskLevel::None,
                RiskState::Dismissed,
                RiskDetail::AdminDismissedRiskForAgent,
            ),
        };
        for id in ids {
            let changed = self.lock().workloads.change_risk(
                kind,
                &id.to_string(),
                level.clone(),
                state.clone(),
                detail.clone(),
            );
            if changed {
                self.record_action(ctx, action, id);
            }
        }
        let mut res = Response::new(Bytes::new());
        *res.status_mut() = StatusCode::NO_CONTENT;
        res
    }

    /// `PATCH servicePrincipals/{id}` with `accountEnabled`: Graph names Application
    /// Administrator and Cloud Application Administrator for a multi-tenant app.
    pub(super) fn update_service_principal(&self, ctx: &Ctx, id: &str) -> Response<Bytes> {
        if let Some(res) = self.denied(
            ctx,
            &["Application.ReadWrite.All"],
            &[CLOUD_APPLICATION_ADMINISTRATOR, "Application Administrator"],
        ) {
            return res;
        }
        let enabled = serde_json::from_slice::<Value>(&ctx.body)
            .ok()
            .and_then(|b| b.get("accountEnabled").and_then(Value::as_bool));
        let (Some(enabled), Ok(uid)) = (enabled, UserId::parse(id)) else {
            return error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                "Invalid value specified for property 'accountEnabled'.",
            );
        };
        {
            let mut s = self.lock();
            let Some(sp) = s.workloads.service_principals.get_mut(id) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "Request_ResourceNotFound",
                    "Resource does not exist.",
                );
            };
            sp.enabled = enabled;
            for (_, v) in s.workloads.risky.iter_mut() {
                if v.get("id").and_then(Value::as_str) == Some(id) {
                    v["isEnabled"] = json!(enabled);
                }
            }
        }
        self.record_action(ctx, "disableServicePrincipal", uid);
        let mut res = Response::new(Bytes::new());
        *res.status_mut() = StatusCode::NO_CONTENT;
        res
    }
}
