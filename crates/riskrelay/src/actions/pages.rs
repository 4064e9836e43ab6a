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

/// The stylesheet, at `/actions/style.css`.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}\
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}\
.button{display:inline-block;padding:.6rem 1.2rem;border-radius:.3rem;border:0;background:#0f6cbd;color:#fff;font-size:1rem;text-decoration:none;cursor:pointer}\
.danger{background:#c50f1f}.note{color:#555}.problem{border-left:.3rem solid #c50f1f;padding-left:1rem}.done{border-left:.3rem solid #107c10;padding-left:1rem}";

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

fn about(link: &ActionLink) -> Markup {
    html! {
        dl {
            dt { "Action" } dd { (link.action.label()) }
            dt { "User id" } dd { code { (link.user) } }
            dt { "From alert" } dd { code { (crate::render::short_ref(&link.alert_key)) } }
            dt { "Link valid until" } dd { (OffsetDateTime::from_unix_timestamp(link.expires).map(time_text).unwrap_or_default()) }
        }
    }
}

/// Before sign-in: what the link is for, and a way to sign in. Opening it changes nothing.
pub fn landing(link: &ActionLink, signin: &str) -> String {
    page(
        link.action.label(),
        html! {
            h1 { (link.action.label()) "?" }
            (about(link))
            p { "Sign in with your Microsoft Entra account to see the user's current risk and confirm. Nothing is done until you confirm." }
            a.button #signin href=(signin) { "Sign in with Microsoft" }
        },
    )
}

fn risk_rows(live: Option<&RiskyUser>) -> Markup {
    html! {
        @match live {
            Some(u) => {
                dt { "User" } dd { (u.user_display_name.as_deref().unwrap_or("")) " " code { (u.user_principal_name.as_deref().unwrap_or("")) } }
                dt { "Current risk" } dd #risk { (u.risk_level.as_wire()) " · " (u.risk_state.as_wire()) }
                dt { "Updated" } dd { (u.risk_last_updated_date_time.map(time_text).unwrap_or_default()) }
            }
            None => {
                dt { "Current risk" } dd #risk { "no risk recorded for this user" }
            }
        }
    }
}

/// Signed in: the live risk and the button that acts (a POST with the session's CSRF token).
pub fn confirm(
    link: &ActionLink,
    token: &str,
    analyst: &Analyst,
    live: Option<&RiskyUser>,
    csrf: &str,
) -> String {
    let danger = matches!(link.action, ActionKind::Confirm | ActionKind::Revoke);
    page(
        link.action.label(),
        html! {
            h1 { (link.action.label()) "?" }
            p.note { "Signed in as " strong #analyst { (analyst.upn) } }
            dl {
                (risk_rows(live))
                dt { "From alert" } dd { code { (crate::render::short_ref(&link.alert_key)) } }
            }
            p { (explain(link.action)) }
            form method="post" action={ "/actions/" (token) } {
                input type="hidden" name="csrf" value=(csrf);
                button.button.danger[danger] #confirm type="submit" { (link.action.label()) }
            }
        },
    )
}

fn explain(action: ActionKind) -> &'static str {
    match action {
        ActionKind::Confirm => {
            "Entra sets the user's risk to high and marks them compromised; Conditional Access policies on user risk then apply. Reset their password and revoke their sessions next."
        }
        ActionKind::Dismiss => {
            "Entra dismisses all of the user's risk. Do this only when the detections were not the user being compromised."
        }
        ActionKind::Revoke => {
            "Entra invalidates the user's refresh tokens and session cookies; they sign in again everywhere."
        }
        ActionKind::Snooze => {
            "riskrelay holds back this user's alerts for 7 days, except an escalation, a confirmed compromise and the end of the risk. Entra is not changed."
        }
    }
}

/// After acting.
pub fn done(notice: &ActionNotice) -> String {
    page(
        notice.action.done(),
        html! {
            div.done {
                h1 #done { (notice.action.done()) }
                p { strong { (notice.user) } " — " (notice.action.done()) " by " (notice.by) " at " (time_text(notice.at)) "." }
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
