//! The view of a user alert: the change, the user, the detections, the verdict and the links.

use super::notices::acted_text;
use super::*;

/// `hidden` is no point on the low/medium/high scale: Graph withholds the level from this app.
pub(super) fn is_hidden(level: &RiskLevel) -> bool {
    *level == RiskLevel::Hidden
}

/// A risk that ended with no detail naming how, in state `none`: Microsoft documents no
/// remediation behind it (low-risk users age out after six months), so it is not "remediated".
pub(super) fn ended_unexplained(a: &UserAlert) -> bool {
    matches!(&a.change, Change::Remediated { how } if !how.names_an_ending())
        && a.user.risk_state == RiskState::None
}

pub(super) fn change_title(change: &Change, level: &RiskLevel) -> (Tone, String) {
    let lw = level_word(level);
    if is_hidden(level) {
        let title = match change {
            Change::NewRisk => Some("User at risk (level hidden)"),
            Change::Escalated { .. } | Change::Lowered { .. } => {
                Some("User risk level now hidden from this app")
            }
            Change::NewDetections => Some("New detections for an at-risk user (level hidden)"),
            _ => None,
        };
        if let Some(t) = title {
            return (Tone::Warning, t.into());
        }
    }
    match change {
        Change::NewRisk => (
            Tone::for_level(level),
            format!("{} user risk", capitalise(&lw)),
        ),
        Change::Escalated { .. } => (Tone::for_level(level), format!("User risk raised to {lw}")),
        Change::Lowered { .. } => (Tone::for_level(level), format!("User risk lowered to {lw}")),
        Change::NewDetections => (
            Tone::for_level(level),
            format!("New detections for a {lw}-risk user"),
        ),
        Change::Remediated { .. } => (Tone::Good, "User risk remediated".into()),
        Change::Dismissed { .. } => (Tone::Neutral, "User risk dismissed".into()),
        Change::ConfirmedCompromised => (Tone::Critical, "User confirmed compromised".into()),
    }
}

pub(super) fn change_label(change: &Change) -> &'static str {
    match change {
        Change::NewRisk => "new risk",
        Change::Escalated { .. } => "escalated",
        Change::Lowered { .. } => "lowered",
        Change::NewDetections => "new detections",
        Change::Remediated { .. } => "remediated",
        Change::Dismissed { .. } => "dismissed",
        Change::ConfirmedCompromised => "confirmed compromised",
    }
}

/// The list of an alert's detections: every open one for a new risk or a compromise, the new ones
/// otherwise; none when there are none.
pub(super) fn detections_list(change: &Change, items: Vec<Vec<Run>>) -> Option<List> {
    (!items.is_empty()).then(|| List {
        heading: if matches!(change, Change::NewRisk | Change::ConfirmedCompromised) {
            "Detections".into()
        } else {
            "New detections".into()
        },
        noun: "detections",
        items,
    })
}

/// A detection's time, IP address and location, appended to its list item.
pub(super) fn when_and_where(
    runs: &mut Vec<Run>,
    when: Option<time::OffsetDateTime>,
    ip: Option<&str>,
    location: Option<&crate::risk::SignInLocation>,
) {
    if let Some(t) = when {
        runs.push(Run::fixed(format!(" · {}", time_text(t))));
    }
    if let Some(ip) = ip.filter(|s| !s.is_empty()) {
        runs.push(Run::fixed(" · "));
        runs.push(Run::data(escape::truncate(&escape::single_line(ip), 64)));
    }
    if let Some(loc) = location.and_then(|l| l.display()) {
        runs.push(Run::fixed(" ("));
        runs.push(Run::data(escape::truncate(&escape::single_line(&loc), 100)));
        runs.push(Run::fixed(")"));
    }
}

/// A detection as one list item.
pub fn detection_item(d: &RiskDetection) -> Vec<Run> {
    let info = catalogue::describe(&d.risk_event_type, d.activity.as_deref());
    let mut runs = vec![
        if info.known {
            Run::fixed(info.name)
        } else {
            Run::data(info.name)
        }
        .bold(),
    ];
    let timing = match &d.detection_timing_type {
        crate::risk::DetectionTimingType::Realtime => "real-time".to_string(),
        crate::risk::DetectionTimingType::NearRealtime => "near real-time".to_string(),
        crate::risk::DetectionTimingType::Offline => "offline".to_string(),
        _ => info.timing.to_string(),
    };
    runs.push(Run::fixed(format!(
        " — {timing}, {}, {} risk",
        info.tier,
        level_word(&d.risk_level)
    )));
    when_and_where(
        &mut runs,
        d.when(),
        d.ip_address.as_deref(),
        d.location.as_ref(),
    );
    let reasons = d.risk_reasons();
    if !reasons.is_empty() {
        runs.push(Run::fixed(" · reasons: "));
        runs.push(Run::data(escape::truncate(
            &escape::single_line(&reasons.join(", ")),
            200,
        )));
    }
    runs
}

pub(super) fn verdict_callout(v: &Verdict) -> Callout {
    let tone = match v {
        Verdict::OnPremises { .. } | Verdict::Cloud { .. } => Tone::Good,
        Verdict::CloudIfWriteback { .. } => Tone::Neutral,
        Verdict::NeedsAdmin { .. } | Verdict::Deleted => Tone::Warning,
        Verdict::Unknown { .. } => Tone::Neutral,
    };
    Callout {
        tone,
        headline: v.headline().into(),
        text: vec![Run::data(v.explanation())],
    }
}

pub(super) fn user_view(a: &UserAlert) -> View {
    let level = &a.user.risk_level;
    let (tone, title) = if ended_unexplained(a) {
        (Tone::Good, "User no longer at risk".to_string())
    } else {
        change_title(&a.change, level)
    };
    let name = escape::truncate(&escape::single_line(&a.display_name()), FIELD_MAX);
    let upn = a
        .upn()
        .map(|u| escape::truncate(&escape::single_line(&u), FIELD_MAX));
    let mut lead = vec![Run::data(name.clone()).bold()];
    if let Some(u) = &upn {
        lead.push(Run::fixed(" ("));
        lead.push(Run::data(u.clone()));
        lead.push(Run::fixed(")"));
    }
    let mut status = if is_hidden(level) {
        vec![
            Run::fixed("Risk level "),
            Run::fixed("hidden").bold(),
            Run::fixed(" (Graph withholds it from this app)"),
        ]
    } else {
        vec![Run::fixed("Risk "), Run::fixed(level_word(level)).bold()]
    };
    if let Some((prev_level, _)) = &a.previous
        && prev_level != level
    {
        status.push(Run::fixed(format!(" (was {})", level_word(prev_level))));
    }
    status.push(Run::fixed(format!(
        " · {}",
        state_words(&a.user.risk_state)
    )));
    match &a.change {
        _ if ended_unexplained(a) => status.push(Run::fixed(
            " · no longer at risk, with no remediation named (low-risk users age out after six months)",
        )),
        Change::Remediated { how } | Change::Dismissed { how } => {
            status.push(Run::fixed(" · how it ended: "));
            status.push(Run::data(how.plain()));
        }
        _ if a.user.risk_detail != crate::risk::RiskDetail::None => {
            status.push(Run::fixed(" · "));
            status.push(Run::data(a.user.risk_detail.plain()));
        }
        _ => {}
    }
    if a.user.is_deleted {
        status.push(Run::fixed(
            " · the account has been deleted: an administrator cannot dismiss its risk (only a Microsoft support case can)",
        ));
    }
    if a.user.is_processing {
        status.push(Run::fixed(
            " · Entra is still processing this user's risk state",
        ));
    }
    let mut facts = Vec::new();
    match &a.context {
        Lookup::Found(c) => {
            let mut add = |label: &str, v: Option<&String>| {
                if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                    facts.push((
                        label.to_string(),
                        escape::truncate(&escape::single_line(v), FIELD_MAX),
                    ));
                }
            };
            add("Department", c.department.as_ref());
            add("Job title", c.job_title.as_ref());
            let manager = c
                .manager
                .as_ref()
                .and_then(|m| m.display_name.clone().or(m.user_principal_name.clone()));
            add("Manager", manager.as_ref());
            facts.push((
                "Account".into(),
                match c.account_enabled {
                    Some(true) => "enabled".into(),
                    Some(false) => "disabled".into(),
                    None => "not reported".into(),
                },
            ));
            // `onPremisesSyncEnabled` null means never synced (Graph `user` resource).
            facts.push((
                "Synced from on-premises".into(),
                yes_no(Some(c.on_premises_sync_enabled == Some(true))),
            ));
        }
        Lookup::NotFound => facts.push(("Directory".into(), "the user no longer exists".into())),
        Lookup::Unavailable { reason } => facts.push((
            "Directory".into(),
            escape::truncate(&format!("could not be read: {reason}"), FIELD_MAX),
        )),
    }
    match &a.registration {
        Lookup::Found(r) => {
            facts.push(("MFA registered".into(), yes_no(r.is_mfa_registered)));
            facts.push(("SSPR registered".into(), yes_no(r.is_sspr_registered)));
        }
        Lookup::NotFound => facts.push(("MFA / SSPR".into(), "no registration details".into())),
        Lookup::Unavailable { reason } => {
            facts.push(("MFA / SSPR".into(), escape::truncate(reason, FIELD_MAX)))
        }
    }
    if let (true, Some(note)) = (a.detections.is_empty(), &a.detections_note) {
        facts.push(("Detections".into(), escape::truncate(note, FIELD_MAX)));
    }
    if let Some(s) = &a.snoozed {
        facts.push(super::notices::snoozed_fact(s));
    }
    if let Some(n) = &a.acted {
        facts.push(("Action".into(), acted_text(n)));
    }
    let mut lists = Vec::new();
    lists.extend(detections_list(
        &a.change,
        a.detections.iter().map(detection_item).collect(),
    ));
    let top = a
        .detections
        .first()
        .map(|d| catalogue::describe(&d.risk_event_type, d.activity.as_deref()).name);
    let mut fallback = format!("{} {title}: {name}", tone.emoji());
    if let Some(u) = &upn {
        fallback.push_str(&format!(" ({u})"));
    }
    if let Some(t) = &top {
        fallback.push_str(&format!(
            " · {}",
            escape::truncate(&escape::single_line(t), 80)
        ));
    }
    if let Change::Remediated { how } | Change::Dismissed { how } = &a.change
        && !ended_unexplained(a)
    {
        fallback.push_str(&format!(" · {}", how.plain()));
    }
    if let Some(v) = &a.verdict {
        fallback.push_str(&format!(" · {}", v.headline()));
    }
    View {
        tone,
        title,
        lead,
        status,
        facts,
        lists,
        callout: a.verdict.as_ref().map(verdict_callout),
        footer: format!(
            "riskrelay · tenant {} · {} · ref {}",
            a.tenant_id,
            if ended_unexplained(a) {
                "risk ended".to_string()
            } else {
                a.change.kind().to_string()
            },
            short_ref(&a.key)
        ),
        fallback,
        links: user_links(a),
    }
}

/// Where to look at the user: their page (not for a deleted account, which has none) and the
/// risky users report, in the tenant's admin center; then the action buttons, when configured.
pub(super) fn user_links(a: &UserAlert) -> Vec<Link> {
    let mut links = Vec::new();
    if !a.user.is_deleted {
        links.push(Link {
            label: "Open user in Entra",
            url: a.admin_center.user_url(a.tenant_id, a.user.id),
        });
    }
    // Teams shows at most five card actions: with four action buttons, the report (one click
    // away from the user's page) gives way.
    if a.actions.len() < 4 {
        links.push(Link {
            label: "Risky users report",
            url: a.admin_center.risky_users_url(a.tenant_id),
        });
    }
    links.extend(a.actions.iter().map(Link::from));
    links
}
