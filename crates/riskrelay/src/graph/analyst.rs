//! Calls made with a signed-in analyst's delegated token (the actions from an alert): the same
//! client, budget and retries as riskrelay's own reads, another bearer. Entra's roles, MFA and
//! Conditional Access decide whether the analyst may; riskrelay's app holds no write permission.

use secrecy::SecretString;

use super::{Call, Feature, GraphClient, GraphError};
use crate::action_link::ActionKind;
use crate::ids::UserId;
use crate::risk::RiskyUser;
use crate::workload::{RiskyWorkload, WorkloadKind};

impl GraphClient {
    /// The user's risk as the analyst sees it. `None` when Graph has no riskyUser for the id.
    pub async fn risky_user_as(
        &self,
        token: &SecretString,
        id: UserId,
    ) -> Result<Option<RiskyUser>, GraphError> {
        let mut call = Call::get(
            self.url("v1.0", &format!("identityProtection/riskyUsers/{id}"), None),
            Feature::AnalystRead,
        );
        call.as_user = Some(token.clone());
        match self.send(&call).await {
            Ok(reply) => reply.json(Feature::AnalystRead).map(Some),
            Err(GraphError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the analyst is a member of `group` (directly or through nested groups).
    pub async fn analyst_in_group(
        &self,
        token: &SecretString,
        group: uuid::Uuid,
    ) -> Result<bool, GraphError> {
        #[derive(serde::Deserialize)]
        struct Groups {
            value: Vec<String>,
        }
        let call = Call {
            method: http::Method::POST,
            url: self.url("v1.0", "me/checkMemberGroups", None),
            feature: Feature::AnalystGroups,
            body: Some(serde_json::json!({ "groupIds": [group.to_string()] })),
            as_user: Some(token.clone()),
        };
        let groups: Groups = self.send(&call).await?.json(Feature::AnalystGroups)?;
        Ok(groups
            .value
            .iter()
            .any(|g| g.eq_ignore_ascii_case(&group.to_string())))
    }

    /// Takes `action` on the user with the analyst's token. Snoozing is riskrelay's own and
    /// makes no Graph call.
    pub async fn act_as(
        &self,
        token: &SecretString,
        action: ActionKind,
        user: UserId,
    ) -> Result<(), GraphError> {
        let (path, feature, body) = match action {
            ActionKind::Confirm => (
                "identityProtection/riskyUsers/confirmCompromised".to_string(),
                Feature::ConfirmCompromised,
                Some(serde_json::json!({ "userIds": [user.to_string()] })),
            ),
            ActionKind::Dismiss => (
                "identityProtection/riskyUsers/dismiss".to_string(),
                Feature::DismissRisk,
                Some(serde_json::json!({ "userIds": [user.to_string()] })),
            ),
            ActionKind::Revoke => (
                format!("users/{user}/revokeSignInSessions"),
                Feature::RevokeSessions,
                None,
            ),
            ActionKind::Snooze => return Ok(()),
            ActionKind::Disable | ActionKind::ConfirmSafe => {
                return Err(GraphError::Malformed {
                    feature: Feature::DismissRisk,
                    detail: format!("{} is not offered for a user", action.name()),
                });
            }
        };
        let call = Call {
            method: http::Method::POST,
            url: self.url("v1.0", &path, None),
            feature,
            body,
            as_user: Some(token.clone()),
        };
        self.send(&call).await.map(|_| ())
    }

    /// A workload identity's risk as the analyst sees it. `None` when Graph has no risky record
    /// for the id, or one riskrelay cannot read.
    pub async fn risky_workload_as(
        &self,
        token: &SecretString,
        kind: WorkloadKind,
        id: UserId,
    ) -> Result<Option<RiskyWorkload>, GraphError> {
        let feature = Feature::AnalystWorkloadRead;
        let mut call = Call::get(
            self.url(kind.version(), &format!("{}/{id}", kind.risky_path()), None),
            feature,
        );
        call.as_user = Some(token.clone());
        match self.send(&call).await {
            Ok(reply) => {
                let v: serde_json::Value = reply.json(feature)?;
                Ok(crate::workload::read_workload(kind, &v).ok())
            }
            Err(GraphError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Takes `action` on a service principal or agent with the analyst's token: its risk
    /// confirmed or dismissed (`servicePrincipalIds`, v1.0; `agentIds`, beta), an agent confirmed
    /// safe, or a service principal disabled (`accountEnabled: false`). The action pages offer
    /// only these ([`ActionKind::offered`]); any other is refused before a request is made.
    pub async fn act_on_workload_as(
        &self,
        token: &SecretString,
        action: ActionKind,
        kind: WorkloadKind,
        id: UserId,
    ) -> Result<(), GraphError> {
        let ids = serde_json::json!([id.to_string()]);
        let (method, version, path, feature, body) = match (action, kind) {
            (ActionKind::Disable, WorkloadKind::ServicePrincipal) => (
                http::Method::PATCH,
                "v1.0",
                format!("servicePrincipals/{id}"),
                Feature::DisableServicePrincipal,
                serde_json::json!({ "accountEnabled": false }),
            ),
            (ActionKind::Confirm | ActionKind::Dismiss, WorkloadKind::ServicePrincipal) => (
                http::Method::POST,
                kind.version(),
                format!("{}/{}", kind.risky_path(), risk_action(action)),
                Feature::ServicePrincipalRisk,
                serde_json::json!({ "servicePrincipalIds": ids }),
            ),
            (
                ActionKind::Confirm | ActionKind::Dismiss | ActionKind::ConfirmSafe,
                WorkloadKind::Agent,
            ) => (
                http::Method::POST,
                kind.version(),
                format!("{}/{}", kind.risky_path(), risk_action(action)),
                Feature::AgentRisk,
                serde_json::json!({ "agentIds": ids }),
            ),
            _ => {
                return Err(GraphError::Malformed {
                    feature: Feature::ServicePrincipalRisk,
                    detail: format!("{} is not offered for a {}", action.name(), kind.noun()),
                });
            }
        };
        let call = Call {
            method,
            url: self.url(version, &path, None),
            feature,
            body: Some(body),
            as_user: Some(token.clone()),
        };
        self.send(&call).await.map(|_| ())
    }
}

/// Graph's name for a risk action on a workload identity.
fn risk_action(action: ActionKind) -> &'static str {
    match action {
        ActionKind::Confirm => "confirmCompromised",
        ActionKind::ConfirmSafe => "confirmSafe",
        _ => "dismiss",
    }
}
