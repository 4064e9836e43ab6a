//! What Graph refused or failed, told apart: the feature a call serves, the error kinds (each
//! retryable or not, a refusal of the app or of a tenant), and the one classification of an
//! answer's status and body.

use std::fmt;

use http::StatusCode;

/// What a request serves, and so which permission a 403 means is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    RiskyUsers,
    RiskDetections,
    /// Risky service principals (v1.0) and their detections.
    RiskyServicePrincipals,
    /// Risky agents (beta) and their detections.
    RiskyAgents,
    /// Service principal and agent risk detections.
    WorkloadDetections,
    /// A risky workload identity's service principal, owners, credentials and reach.
    WorkloadContext,
    UserContext,
    Membership,
    Registration,
    PasswordSync,
    ConditionalAccess,
    PolicyRead,
    PolicyWrite,
    Subscriptions,
    SecurityAlerts,
    /// An analyst's actions from an alert, with their own delegated token (see
    /// [`crate::actions`]): reading the user's risk, confirming, dismissing, revoking.
    AnalystRead,
    /// Whether the signed-in analyst is in the action group (`/me/checkMemberGroups`).
    AnalystGroups,
    ConfirmCompromised,
    DismissRisk,
    RevokeSessions,
    /// The analyst's read of a service principal's or agent's risk.
    AnalystWorkloadRead,
    /// Confirming a service principal compromised or dismissing its risk.
    ServicePrincipalRisk,
    /// Confirming an agent compromised or safe, or dismissing its risk (beta).
    AgentRisk,
    DisableServicePrincipal,
}

impl Feature {
    pub fn permission(self) -> &'static str {
        match self {
            Self::RiskyUsers => "IdentityRiskyUser.Read.All",
            Self::RiskDetections | Self::WorkloadDetections => "IdentityRiskEvent.Read.All",
            Self::RiskyServicePrincipals => "IdentityRiskyServicePrincipal.Read.All",
            Self::RiskyAgents => "IdentityRiskyAgent.Read.All",
            Self::WorkloadContext => "Application.Read.All",
            Self::UserContext => "User.Read.All",
            Self::Membership => "GroupMember.Read.All",
            Self::Registration => "AuditLog.Read.All",
            Self::PasswordSync => "Organization.Read.All",
            Self::ConditionalAccess => "Policy.Read.All",
            Self::PolicyRead => "Policy.Read.IdentityProtection",
            Self::PolicyWrite => "Policy.ReadWrite.IdentityProtection",
            Self::Subscriptions => {
                "the permission of the subscribed resource (User.Read.All or SecurityEvents.ReadWrite.All)"
            }
            Self::SecurityAlerts => "SecurityEvents.Read.All",
            Self::AnalystRead | Self::ConfirmCompromised | Self::DismissRisk => {
                "IdentityRiskyUser.ReadWrite.All (delegated)"
            }
            Self::RevokeSessions => "User.RevokeSessions.All (delegated)",
            Self::AnalystWorkloadRead | Self::ServicePrincipalRisk => {
                "IdentityRiskyServicePrincipal.ReadWrite.All or IdentityRiskyAgent.ReadWrite.All (delegated)"
            }
            Self::AgentRisk => "IdentityRiskyAgent.ReadWrite.All (delegated)",
            Self::DisableServicePrincipal => "Application.ReadWrite.All (delegated)",
            // Graph lists User.Read as the least privileged permission for the signed-in user's
            // own memberships.
            Self::AnalystGroups => "User.Read (delegated)",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::RiskyUsers => "risky-user reads",
            Self::RiskDetections => "risk detection reads",
            Self::RiskyServicePrincipals => "risky service principal reads",
            Self::RiskyAgents => "risky agent reads",
            Self::WorkloadDetections => "workload identity risk detection reads",
            Self::WorkloadContext => {
                "workload identity context in alerts (owners, credentials, permissions, roles)"
            }
            Self::UserContext => "user context in alerts (department, job title, sync state)",
            Self::Membership => {
                "group and role memberships (whether a Conditional Access policy applies to a user)"
            }
            Self::Registration => "MFA and SSPR registration in alerts",
            Self::PasswordSync => "the password hash sync check",
            Self::ConditionalAccess => "the user-risk Conditional Access check",
            Self::PolicyRead => "the on-premises reset setting check",
            Self::PolicyWrite => "correcting the on-premises reset setting (enforce mode)",
            Self::Subscriptions => "Graph change-notification subscriptions",
            Self::SecurityAlerts => "legacy ID Protection security alerts",
            Self::AnalystRead => "the analyst's read of the user's risk",
            Self::ConfirmCompromised => "confirming a user compromised",
            Self::DismissRisk => "dismissing a user's risk",
            Self::RevokeSessions => "revoking a user's sessions",
            Self::AnalystWorkloadRead => "the analyst's read of a workload identity's risk",
            Self::ServicePrincipalRisk => "changing a service principal's risk",
            Self::AgentRisk => "changing an agent's risk",
            Self::DisableServicePrincipal => "disabling a service principal",
            Self::AnalystGroups => "the analyst's group membership",
        }
    }

    /// Which request budget the feature's endpoint draws on.
    pub(super) fn budget(self) -> Budget {
        match self {
            Self::RiskyUsers
            | Self::RiskDetections
            | Self::RiskyServicePrincipals
            | Self::RiskyAgents
            | Self::WorkloadDetections
            | Self::ConditionalAccess
            | Self::PolicyRead
            | Self::PolicyWrite
            | Self::AnalystRead
            | Self::ConfirmCompromised
            | Self::DismissRisk
            | Self::AnalystWorkloadRead
            | Self::ServicePrincipalRisk
            | Self::AgentRisk => Budget::IdentityProtection,
            Self::UserContext | Self::Membership | Self::Registration | Self::WorkloadContext => {
                Budget::Directory
            }
            Self::PasswordSync
            | Self::Subscriptions
            | Self::SecurityAlerts
            | Self::RevokeSessions
            | Self::AnalystGroups => Budget::Other,
            Self::DisableServicePrincipal => Budget::Directory,
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Identity protection and Conditional Access: 1 request per second per tenant.
    IdentityProtection,
    /// Directory reads, including `$batch`: a much larger budget of their own.
    Directory,
    Other,
}

impl Budget {
    /// Its name as a metric label.
    pub fn name(self) -> &'static str {
        match self {
            Self::IdentityProtection => "identity_protection",
            Self::Directory => "directory",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("Graph kept throttling {feature} (429) until the retry budget ran out")]
    Throttled { feature: Feature },
    #[error("Graph answered {status} for {feature} until the retry budget ran out")]
    Server { feature: Feature, status: u16 },
    #[error("Graph did not answer in time for {feature}")]
    Timeout { feature: Feature },
    #[error("could not reach Graph for {feature}: {detail}")]
    Transport { feature: Feature, detail: String },
    #[error("{}", forbidden_text(*feature, code))]
    Forbidden {
        feature: Feature,
        /// Graph's `error.code`, which tells a missing licence from a missing permission.
        code: String,
    },
    #[error("Graph found nothing for {feature} (404)")]
    NotFound { feature: Feature },
    #[error("Graph rejected the request for {feature} ({status} {code}): {message}")]
    Rejected {
        feature: Feature,
        status: u16,
        code: String,
        message: String,
    },
    #[error("Graph sent a response for {feature} that riskrelay could not read: {detail}")]
    Malformed { feature: Feature, detail: String },
    #[error(
        "Graph sent a next-page link for {feature} outside the configured Graph root; it was not followed"
    )]
    ForeignNextLink { feature: Feature },
    #[error("Graph's paging for {feature} was stopped: {detail}")]
    Paging { feature: Feature, detail: String },
    #[error("could not get a Graph token: {0}")]
    Auth(String),
    #[error("Graph refused the token for {feature} (401)")]
    TokenRefused { feature: Feature },
    #[error("riskrelay is stopping; the request for {feature} was not sent")]
    Stopping { feature: Feature },
    #[error(transparent)]
    Setup(#[from] crate::http::SetupError),
}

impl GraphError {
    pub(super) fn transport(feature: Feature, e: reqwest::Error) -> Self {
        match crate::http::TransportFailure::of(e) {
            crate::http::TransportFailure::Timeout => Self::Timeout { feature },
            other => Self::Transport {
                feature,
                detail: other.to_string(),
            },
        }
    }

    /// Whether trying again later may succeed. Throttling, server errors, timeouts and network
    /// failures may; a missing permission, a rejected request or an unreadable answer will not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. }
                | Self::Server { .. }
                | Self::Timeout { .. }
                | Self::Transport { .. }
                | Self::Stopping { .. }
        )
    }

    /// Whether the tenant refuses the app, and why, or whether the cause is the deployment's —
    /// from error codes only (an AADSTS code in the token endpoint's answer, Graph's
    /// `error.code`), never from message text. `None`: neither (throttling, a timeout, a bad
    /// client secret — the deployment's own credential, which no tenant can fix).
    pub fn refusal(&self) -> Option<Refused> {
        use crate::tenancy::Refusal;
        // The token endpoint's refusals reach riskrelay as azure_identity's error text, which
        // quotes Entra's AADSTS code (or the OAuth error code).
        const BY_TOKEN_ENDPOINT: [(&str, Option<Refusal>); 7] = [
            ("AADSTS700016", Some(Refusal::Consent)),
            ("AADSTS65001", Some(Refusal::Consent)),
            ("AADSTS7000112", Some(Refusal::Consent)),
            ("unauthorized_client", Some(Refusal::Consent)),
            ("AADSTS90002", Some(Refusal::TenantNotFound)),
            ("AADSTS53003", Some(Refusal::ConditionalAccess)),
            // Graph's resource principal is not in the tenant: a wrong cloud or Graph root,
            // which every tenant answers the same way.
            ("AADSTS500011", None),
        ];
        match self {
            Self::TokenRefused { .. } => Some(Refused::Tenant(Refusal::Consent)),
            Self::Forbidden { code, .. } => Some(Refused::Tenant(forbidden_kind(code))),
            Self::Auth(text) => BY_TOKEN_ENDPOINT
                .iter()
                .find(|(code, _)| text.contains(code))
                .map(|(_, r)| match r {
                    Some(r) => Refused::Tenant(*r),
                    None => Refused::Deployment,
                }),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Throttled { .. } => Some(429),
            Self::Server { status, .. } | Self::Rejected { status, .. } => Some(*status),
            Self::Forbidden { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            _ => None,
        }
    }
}

/// Who a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Tenant(crate::tenancy::Refusal),
    Deployment,
}

/// Graph's 403 codes for a tenant without the licence a feature needs (seen from the reports and
/// sign-in APIs; risky users need Microsoft Entra ID P2).
const LICENCE_CODES: [&str; 2] = [
    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
    "NoLicense",
];
/// Graph's 403 codes for an app without the permission.
const PERMISSION_CODES: [&str; 2] = ["Authorization_RequestDenied", "accessDenied"];

pub(super) fn forbidden_kind(code: &str) -> crate::tenancy::Refusal {
    use crate::tenancy::Refusal;
    let is = |list: &[&str]| list.iter().any(|c| c.eq_ignore_ascii_case(code));
    if is(&LICENCE_CODES) {
        Refusal::Licence
    } else if is(&PERMISSION_CODES) {
        Refusal::Permission
    } else {
        Refusal::Forbidden
    }
}

pub(super) fn forbidden_text(feature: Feature, code: &str) -> String {
    use crate::tenancy::Refusal;
    let with_code = if code.is_empty() {
        "403".to_string()
    } else {
        format!("403 {code}")
    };
    match forbidden_kind(code) {
        Refusal::Licence => format!(
            "Graph refused {feature} ({with_code}): the tenant lacks the licence it needs (risky users and detections need Microsoft Entra ID P2)"
        ),
        Refusal::Forbidden if !code.is_empty() => format!(
            "Graph refused {feature} ({with_code}): the app needs the {} permission, or the tenant a licence the feature requires",
            feature.permission()
        ),
        _ => format!(
            "Graph refused {feature} ({with_code}): the app needs the {} permission",
            feature.permission()
        ),
    }
}

/// Graph's `{"error": {"code", "message"}}`, as far as it is there.
pub(super) fn error_body(body: &[u8]) -> (String, String) {
    #[derive(serde::Deserialize, Default)]
    struct Detail {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    #[derive(serde::Deserialize)]
    struct Envelope {
        error: Detail,
    }
    let d = serde_json::from_slice::<Envelope>(body)
        .map(|e| e.error)
        .unwrap_or_default();
    // Scrubbed before they are cut short, so no half of a secret survives.
    (
        crate::redact::excerpt(&d.code, 100),
        crate::redact::excerpt(&d.message, 300),
    )
}

/// Maps a non-retryable error answer.
pub(super) fn classify(feature: Feature, status: StatusCode, body: &[u8]) -> GraphError {
    match status {
        StatusCode::FORBIDDEN => GraphError::Forbidden {
            feature,
            code: error_body(body).0,
        },
        StatusCode::NOT_FOUND => GraphError::NotFound { feature },
        StatusCode::UNAUTHORIZED => GraphError::TokenRefused { feature },
        _ => {
            let (code, message) = error_body(body);
            GraphError::Rejected {
                feature,
                status: status.as_u16(),
                code,
                message,
            }
        }
    }
}
