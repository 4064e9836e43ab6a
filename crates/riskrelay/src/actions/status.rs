//! The status page, `GET /status`: the tenant's state as `riskrelay status` prints it, for a
//! signed-in reader. The same Entra sign-in as the action pages (its own session, marked
//! [`STATUS`]), then one check: a reader-level security role in the ID token's `wids`
//! ([`READER_ROLES`]), or membership of `RISKRELAY_STATUS_GROUP` when set. It reads the store
//! only, and the chart is inline SVG: no script, so the Content-Security-Policy stays strict.

use std::collections::HashMap;

use bytes::Bytes;
use http::{Request, StatusCode};
use maud::{Markup, html};
use time::OffsetDateTime;

use super::oidc::{Analyst, digest, random};
use super::pages::page;
use super::*;
use crate::action_link::READER_ROLES;
use crate::render::time_text;
use crate::status::{DayCount, TenantState};

/// What a status session's `link` holds in place of an action link.
pub(super) const STATUS: &str = "status";

impl ActionsApp {
    /// The page for a reader signed in here; anyone else is sent to sign in first.
    pub(super) async fn status(&self, req: &Request<Bytes>) -> Page {
        if let Some((_, Some((s, _)))) = self.session(req).await?
            && s.link == STATUS
            && let Some(analyst) = &s.analyst
        {
            let now = self.clock.now();
            let state = crate::status::read(self.store.as_ref(), self.tenant, None, None, now)
                .await
                .map_err(|_| Problem::Unavailable)?;
            return Ok(html(StatusCode::OK, status_page(&state, analyst, now)));
        }
        let cookie = random(RANDOM_BYTES);
        let mut res = self.start_login(&digest(&cookie), STATUS, Purpose::Status, None)?;
        self.set_cookie(&mut res, "actions", &cookie, SESSION_LIFETIME);
        Ok(res)
    }

    /// Entra's answer to a status sign-in (its `state` and browser already checked): who signed
    /// in, whether they may read, and a session for the page.
    pub(super) async fn answer_status(
        &self,
        q: &HashMap<String, String>,
        login: Login,
        id: String,
        stored: Option<(Session, u64)>,
        spent: String,
    ) -> Page {
        if q.contains_key("error") {
            tracing::warn!("the status page's sign-in answered with an error");
            return Err(Problem::SignInFailed);
        }
        let code = q.get("code").ok_or(Problem::SignInFailed)?;
        let signed = self.redeem(code, &login).await?;
        let analyst = signed.analyst;
        let allowed = match self.config.status_group {
            Some(group) => self
                .graph
                .analyst_in_group(&signed.access_token, group)
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "the status group could not be checked");
                    Problem::StatusGroupCheckRefused
                })?,
            None => analyst
                .roles
                .iter()
                .any(|r| READER_ROLES.iter().any(|(id, _)| id == r)),
        };
        if !allowed {
            tracing::warn!(analyst = %analyst.upn, "status page refused: no reader role or not in the status group");
            return Err(Problem::NotAReader);
        }
        tracing::info!(analyst = %analyst.upn, "signed in to the status page");
        let (session, version) = self.signed_in(STATUS.into(), analyst, None, stored, spent);
        if !self.save_session(&id, &session, version).await? {
            return Err(Problem::Replayed);
        }
        Ok(see_other("/status"))
    }
}

fn since(t: Option<OffsetDateTime>, now: OffsetDateTime) -> String {
    match t {
        Some(t) => format!(
            "{} ({} minutes ago)",
            time_text(t),
            (now - t).whole_minutes()
        ),
        None => "none yet".into(),
    }
}

/// Alerts per day as bars, with the day and count in each bar's title (a tooltip) and the
/// total in the caption. Presentation attributes only: the CSP allows no inline style.
fn chart(days: &[DayCount]) -> Markup {
    const W: u32 = 24;
    const H: u32 = 120;
    let max = days.iter().map(|d| d.alerts).max().unwrap_or(0).max(1);
    let total: u32 = days.iter().map(|d| d.alerts).sum();
    // Room after the last bar for its date label.
    let width = W * days.len() as u32 + 16;
    html! {
        figure {
            svg #alerts-chart xmlns="http://www.w3.org/2000/svg" role="img" width=(width) height=(H + 20)
                viewBox=(format!("0 0 {width} {}", H + 20)) aria-label="User alerts per day, last 14 days" {
                @for (i, d) in days.iter().enumerate() {
                    @let h = if d.alerts == 0 { 1 } else { (d.alerts * H).div_ceil(max) };
                    rect x=(i as u32 * W + 3) y=(H - h) width=(W - 6) height=(h) fill="#0f6cbd" {
                        title { (d.day) ": " (d.alerts) }
                    }
                    @if i % 7 == 0 || i + 1 == days.len() {
                        text x=(i as u32 * W + 2) y=(H + 15) font-size="9" fill="#555" { (&d.day[5..]) }
                    }
                }
            }
            figcaption.note {
                (total) @if total == 1 { " user alert" } @else { " user alerts" }
                " in the last 14 days (UTC days)."
            }
        }
    }
}

pub fn status_page(s: &TenantState, reader: &Analyst, now: OffsetDateTime) -> String {
    let attention = s.needs_attention();
    page(
        "Status",
        html! {
            h1 { "riskrelay status" }
            p.note { "Signed in as " (reader.name) " (" (reader.upn) "). As of " (time_text(now)) "." }
            @if attention {
                p.problem #attention { "Something needs attention: see below." }
            } @else {
                p.done #attention { "All is well." }
            }
            dl #tenant {
                dt { "Tenant" } dd { code { (s.tenant_id) } }
                dt { "Last successful poll" } dd #last-poll { (since(s.last_poll, now)) }
                dt { "Polls" } dd #polls {
                    @match s.polls_failing_since {
                        Some(t) => {
                            strong { "Failing" } " since " (time_text(t))
                            @if s.stale_announced { " (the team was told)" }
                            ": " (s.last_error.as_deref().unwrap_or("unknown error"))
                        }
                        None => "working",
                    }
                }
                @if let Some(c) = s.consent { dt { "Consent" } dd { (c) } }
                dt { "On-premises reset" } dd #setting {
                    @match (s.on_premises_reset, s.posture_checked_at) {
                        (Some(true), Some(at)) => { "on (checked " (time_text(at)) ")" }
                        (Some(false), Some(at)) => { strong { "off" } " (checked " (time_text(at)) ")" }
                        _ => "not checked yet",
                    }
                }
                dt { "At risk now" } dd #at-risk {
                    (s.at_risk.high) " high · " (s.at_risk.medium) " medium · " (s.at_risk.low) " low"
                    @if s.at_risk.other > 0 { " · " (s.at_risk.other) " hidden" }
                }
                dt { "Subscriptions" } dd { (s.subscriptions) }
                @if !s.workload_risk.is_empty() {
                    dt { "Workload risk" } dd #workload-risk { (s.workload_risk.join("; ")) }
                }
            }
            h2 { "Alerts" }
            (chart(&s.alerts_per_day))
            h2 { "Snoozed" }
            @if s.snoozes.is_empty() { p #snoozes { "Nobody." } } @else {
                ul #snoozes { @for z in &s.snoozes { li { code { (z.user) } " until " (time_text(z.until)) " by " (z.by) ": " (z.reason) } } }
            }
            h2 { "Parked messages" }
            @if s.parked.is_empty() { p #parked { "None." } } @else {
                ul #parked { @for p in &s.parked { li { (p.destination) ": " (p.failure) ", " (p.attempts) " attempts since " (time_text(p.first_failed)) } } }
                p.note { "riskrelay parked --replay all posts them again." }
            }
        },
    )
}
