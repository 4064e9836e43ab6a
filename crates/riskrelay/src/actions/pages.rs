//! The action pages: small, server-rendered HTML. maud escapes every value at compile time; no
//! script, no third-party asset, one stylesheet served by riskrelay itself (the
//! Content-Security-Policy allows nothing else).

use maud::{DOCTYPE, Markup, html};
use time::OffsetDateTime;

use super::oidc::Analyst;
use crate::action_link::{ActionKind, ActionLink};
use crate::alert::ActionNotice;
use crate::render::time_text;
use crate::risk::RiskyUser;
use crate::workload::{RiskyWorkload, WorkloadKind};

/// The subject's risk as the analyst's sign-in read it.
pub enum Live<'a> {
    User(Option<&'a RiskyUser>),
    Workload(WorkloadKind, Option<&'a RiskyWorkload>),
}

/// The stylesheet, at `/actions/style.css`.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}\
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}\
.button{display:inline-block;padding:.6rem 1.2rem;border-radius:.3rem;border:0;background:#0f6cbd;color:#fff;font-size:1rem;text-decoration:none;cursor:pointer}\
.danger{background:#c50f1f}.note{color:#555}.problem{border-left:.3rem solid #c50f1f;padding-left:1rem}.done{border-left:.3rem solid #107c10;padding-left:1rem}";

/// The stylesheet's answer.
pub(super) fn stylesheet() -> http::Response<bytes::Bytes> {
    let mut res = http::Response::new(bytes::Bytes::from_static(STYLE.as_bytes()));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/css; charset=utf-8"),
    );
    res
}

pub(super) fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " · riskrelay" }
                link rel="stylesheet" href="/actions/style.css";
            }
            body {
                main { (body) }
                footer { p.note { "riskrelay · actions are taken with your own Microsoft Entra sign-in and appear in Entra's audit log under your name." } }
            }
        }
    }
    .into_string()
}

/// "user", "service principal", "agent".
fn noun(link: &ActionLink) -> &'static str {
    crate::workload::subject_noun(link.workload)
}

fn about(link: &ActionLink) -> Markup {
    let id = match link.workload {
        None => "User id",
        Some(WorkloadKind::ServicePrincipal) => "Service principal id",
        Some(WorkloadKind::Agent) => "Agent id",
    };
    html! {
        dl {
            dt { "Action" } dd { (link.label()) }
            dt { (id) } dd { code { (link.user) } }
            dt { "From alert" } dd { code { (crate::render::short_ref(&link.alert_key)) } }
            dt { "Link valid until" } dd { (OffsetDateTime::from_unix_timestamp(link.expires).map(time_text).unwrap_or_default()) }
        }
    }
}

/// Before sign-in: what the link is for, and a way to sign in. Opening it changes nothing.
pub fn landing(link: &ActionLink, signin: &str) -> String {
    page(
        link.label(),
        html! {
            h1 { (link.label()) "?" }
            (about(link))
            p { "Sign in with your Microsoft Entra account to see the " (noun(link)) "'s current risk and confirm. Nothing is done until you confirm." }
            a.button #signin href=(signin) { "Sign in with Microsoft" }
        },
    )
}

fn risk_rows(live: &Live<'_>) -> Markup {
    html! {
        @match live {
            Live::User(Some(u)) => {
                dt { "User" } dd { (u.user_display_name.as_deref().unwrap_or("")) " " code { (u.user_principal_name.as_deref().unwrap_or("")) } }
                dt { "Current risk" } dd #risk { (u.risk_level.as_wire()) " · " (u.risk_state.as_wire()) }
                dt { "Updated" } dd { (u.risk_last_updated_date_time.map(time_text).unwrap_or_default()) }
            }
            Live::User(None) => {
                dt { "Current risk" } dd #risk { "no risk recorded for this user" }
            }
            Live::Workload(kind, Some(w)) => {
                dt { (crate::render::capitalise(kind.noun())) } dd #subject { (w.name()) }
                dt { "Current risk" } dd #risk { (w.risk_level.as_wire()) " · " (w.risk_state.as_wire()) }
                dt { "Updated" } dd { (w.risk_last_updated.map(time_text).unwrap_or_default()) }
            }
            Live::Workload(kind, None) => {
                dt { "Current risk" } dd #risk { "no risk recorded for this " (kind.noun()) }
            }
        }
    }
}

/// Signed in: the live risk and the button that acts (a POST with the session's CSRF token).
pub fn confirm(
    link: &ActionLink,
    token: &str,
    analyst: &Analyst,
    live: &Live<'_>,
    csrf: &str,
) -> String {
    let danger = matches!(
        link.action,
        ActionKind::Confirm | ActionKind::Revoke | ActionKind::Disable
    );
    page(
        link.label(),
        html! {
            h1 { (link.label()) "?" }
            p.note { "Signed in as " strong #analyst { (analyst.upn) } }
            dl {
                (risk_rows(live))
                dt { "From alert" } dd { code { (crate::render::short_ref(&link.alert_key)) } }
            }
            p { (explain(link.action, link.workload)) }
            form method="post" action={ "/actions/" (token) } {
                input type="hidden" name="csrf" value=(csrf);
                button.button.danger[danger] #confirm type="submit" { (link.label()) }
            }
        },
    )
}

fn explain(action: ActionKind, workload: Option<WorkloadKind>) -> &'static str {
    match (action, workload) {
        (ActionKind::Confirm, Some(_)) => {
            "Entra sets its risk to high and marks it compromised; Conditional Access policies on workload identity risk then apply. Rotate or remove its credentials next."
        }
        (ActionKind::Dismiss, Some(_)) => {
            "Entra dismisses its risk. Do this only when the detections were not it being compromised."
        }
        (ActionKind::ConfirmSafe, _) => {
            "Entra sets the agent's risk to none, recording that an administrator found it safe. Do this only when the detections were not the agent being compromised."
        }
        (ActionKind::Disable, _) => {
            "Entra disables the service principal in this tenant: it can no longer sign in or get tokens here, whoever holds its credentials. Its app, credentials and permissions stay, so it can be enabled again once it is safe."
        }
        (ActionKind::Confirm, None) => {
            "Entra sets the user's risk to high and marks them compromised; Conditional Access policies on user risk then apply. Reset their password and revoke their sessions next."
        }
        (ActionKind::Dismiss, None) => {
            "Entra dismisses all of the user's risk. Do this only when the detections were not the user being compromised."
        }
        (ActionKind::Revoke, _) => {
            "Entra invalidates the user's refresh tokens and session cookies; they sign in again everywhere."
        }
        (ActionKind::Snooze, None) => {
            "riskrelay holds back this user's alerts for 7 days, except an escalation, a confirmed compromise and the end of the risk. Entra is not changed."
        }
        (ActionKind::Snooze, Some(_)) => {
            "riskrelay holds back this identity's alerts for 7 days, except an escalation, a confirmed compromise and the end of the risk. Entra is not changed, and the identity can still sign in."
        }
    }
}

/// After acting.
pub fn done(notice: &ActionNotice) -> String {
    page(
        notice.done(),
        html! {
            div.done {
                h1 #done { (notice.done()) }
                p { strong { (notice.user) } " — " (notice.done()) " by " (notice.by) " at " (time_text(notice.at)) "." }
                p { "The team's channels get a message saying so." }
            }
        },
    )
}

/// Something went wrong; `detail` is fixed text chosen by riskrelay, never upstream text.
pub fn problem(title: &str, detail: &str) -> String {
    page(
        title,
        html! {
            div.problem {
                h1 #problem { (title) }
                p { (detail) }
            }
        },
    )
}
