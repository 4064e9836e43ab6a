//! What the action pages answer when they cannot act (`Problem`, each with its page and
//! status), and the headers every page carries.

use crate::action_link::{ActionKind, ActionLink, LinkError};
use crate::graph::GraphError;
use crate::workload::WorkloadKind;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::*;

/// Everything a page can go wrong with, and the one place each becomes a status and words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Problem {
    NotFound,
    BadLink,
    Expired,
    SignInFirst,
    Csrf,
    Replayed,
    SignInFailed,
    WrongAnalyst,
    /// Graph refused the action: for a user (`None`) or a workload identity of a kind.
    NeedsRole(ActionKind, Option<WorkloadKind>),
    /// The analyst's token may not read the user's (or the workload identity's) risk.
    NeedsReadRole(Option<WorkloadKind>),
    /// Graph refused to say whether the analyst is in the action group.
    GroupCheckRefused,
    NotInGroup,
    GraphFailed,
    Unavailable,
    /// Another submission of the same form is taking the action right now.
    InProgress,
    /// Signed in, but neither a reader-level role nor the status group.
    NotAReader,
    /// Graph refused to say whether the reader is in `RISKRELAY_STATUS_GROUP`.
    StatusGroupCheckRefused,
    /// Entra answered that the tenant has not granted the delegated permissions the pages ask
    /// for (see [`consent_missing`]).
    ConsentMissing,
}

impl Problem {
    pub(super) fn page(self) -> Response<Bytes> {
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
            Self::NeedsRole(ActionKind::Disable, _) => (
                StatusCode::FORBIDDEN,
                "Graph refused to disable the service principal",
                "Microsoft Graph names Application Administrator and Cloud Application Administrator as the least privileged roles for updating a multi-tenant app's service principal; a single-tenant app's owner may with Application Developer. riskrelay's app registration needs the delegated permission Application.ReadWrite.All. Disable it in the Entra admin center instead if you cannot. Nothing was done.",
            ),
            Self::NeedsRole(_, Some(kind)) => (
                StatusCode::FORBIDDEN,
                match kind {
                    WorkloadKind::ServicePrincipal => {
                        "Graph refused to change the service principal's risk"
                    }
                    WorkloadKind::Agent => "Graph refused to change the agent's risk",
                },
                match kind {
                    WorkloadKind::ServicePrincipal => {
                        "Microsoft Graph names Security Administrator as the least privileged role for confirming a service principal compromised or dismissing its risk, and the tenant needs Workload ID Premium. riskrelay's app registration needs the delegated permission IdentityRiskyServicePrincipal.ReadWrite.All. Act in the Entra admin center instead if you cannot. Nothing was done."
                    }
                    WorkloadKind::Agent => {
                        "Microsoft Graph names Security Administrator as the least privileged role for confirming an agent compromised or safe or dismissing its risk (a beta API). riskrelay's app registration needs the delegated permission IdentityRiskyAgent.ReadWrite.All. Act in the Entra admin center instead if you cannot. Nothing was done."
                    }
                },
            ),
            Self::NeedsReadRole(Some(kind)) => (
                StatusCode::FORBIDDEN,
                match kind {
                    WorkloadKind::ServicePrincipal => {
                        "Graph refused to show the service principal's risk"
                    }
                    WorkloadKind::Agent => "Graph refused to show the agent's risk",
                },
                "Reading a workload identity's risk needs one of the Security Reader, Security Operator, Security Administrator or Global Reader roles in Entra ID, and riskrelay's app registration needs the delegated permission for its kind (IdentityRiskyServicePrincipal.ReadWrite.All or IdentityRiskyAgent.ReadWrite.All). Nothing was done.",
            ),
            Self::NeedsRole(ActionKind::Revoke, None) => (
                StatusCode::FORBIDDEN,
                "Graph refused to revoke the user's sessions",
                "Revoking sessions needs one of the User Administrator, Helpdesk Administrator, Privileged Authentication Administrator or Authentication Administrator roles in Entra ID (for an administrator's account, only a role allowed to act on privileged users), and riskrelay's app registration needs the delegated permission User.RevokeSessions.All. Nothing was done.",
            ),
            Self::NeedsRole(_, None) => (
                StatusCode::FORBIDDEN,
                "Graph refused to change the user's risk",
                "Microsoft Graph names Security Administrator as the least privileged role for confirming a compromise or dismissing user risk; Entra's ID Protection documentation also lets Security Operator do both. If you hold one of these roles already, riskrelay's app registration may lack the delegated permission IdentityRiskyUser.ReadWrite.All, or Graph refused for another reason: act in the Entra admin center instead. Nothing was done.",
            ),
            Self::NeedsReadRole(None) => (
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
            Self::NotAReader => (
                StatusCode::FORBIDDEN,
                "You may not read riskrelay's status",
                "The status page is for accounts with one of the Security Reader, Global Reader, Security Operator, Security Administrator or Global Administrator roles in Entra ID (or, when this riskrelay names one, members of the group RISKRELAY_STATUS_GROUP). riskrelay's app registration must put directory roles in its ID tokens (groupMembershipClaims: DirectoryRole).",
            ),
            Self::StatusGroupCheckRefused => (
                StatusCode::FORBIDDEN,
                "Your group membership could not be checked",
                "This riskrelay shows its status to the members of one Entra group (RISKRELAY_STATUS_GROUP), and Graph refused to say whether you are one. riskrelay's app registration needs the delegated permission User.Read, with admin consent.",
            ),
            Self::ConsentMissing => (
                StatusCode::FORBIDDEN,
                "This tenant has not granted riskrelay's action permissions",
                "Microsoft Entra answered that no administrator of this tenant has granted riskrelay's app the delegated permissions the action pages use (IdentityRiskyUser.ReadWrite.All and the others its app registration lists). An administrator of the tenant grants them by opening the tenant's admin-consent link again (riskrelay tenants consent-url TENANT-ID); until then, act in the Entra admin center. Nothing was done.",
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

pub(super) type Page = Result<Response<Bytes>, Problem>;

/// Headers on every answer: nothing framed, nothing cached, no referrer (the link is in the URL),
/// no script.
pub(super) fn secure(mut res: Response<Bytes>, form_action: &str) -> Response<Bytes> {
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

pub(super) fn html(status: StatusCode, body: String) -> Response<Bytes> {
    let mut res = Response::new(Bytes::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

pub(super) fn see_other(to: &str) -> Response<Bytes> {
    let mut res = Response::new(Bytes::new());
    *res.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// A 403 from Graph with the analyst's token: which call it refused says what is missing.
pub(super) fn graph_problem(e: &GraphError, link: &ActionLink) -> Problem {
    use crate::graph::Feature;
    match e {
        GraphError::Forbidden {
            feature: Feature::AnalystRead | Feature::AnalystWorkloadRead,
            ..
        } => Problem::NeedsReadRole(link.workload),
        GraphError::Forbidden {
            feature: Feature::AnalystGroups,
            ..
        } => Problem::GroupCheckRefused,
        GraphError::Forbidden { .. } => Problem::NeedsRole(link.action, link.workload),
        other => {
            tracing::warn!(error = %other, "Graph call with the analyst's token failed");
            Problem::GraphFailed
        }
    }
}

/// Whether Entra's answer to a sign-in (its `error` and `error_description`, or the token
/// endpoint's text) says the tenant has not granted the app's delegated permissions. Told by
/// error code, never by the description's words: `consent_required`, and AADSTS65001
/// (DelegationDoesNotExist), 65004 (consent declined) and 90094 (an administrator must grant it).
pub(super) fn consent_missing(error: &str, description: &str) -> bool {
    error == "consent_required"
        || ["AADSTS65001", "AADSTS65004", "AADSTS90094"]
            .iter()
            .any(|code| description.contains(code))
}
