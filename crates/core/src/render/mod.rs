//! Rendering: one [`View`] per message, decided once, then drawn for each destination.
//!
//! - [`escape`]: making user-controlled text harmless.
//! - [`slack`]: incoming-webhook payloads with Block Kit blocks.
//! - [`teams`]: Workflows webhook envelopes around an Adaptive Card 1.4.
//! - [`console`]: plain text for a terminal.
//!
//! A view separates fixed template text (titles, labels) from data (names, UPNs, locations,
//! anything Graph returned), so each renderer can put data only where its platform does not
//! parse it. Lists are ordered deterministically; a renderer that runs out of room keeps a
//! prefix and says how many items it left out ("+12 more detections").

pub mod console;
pub mod escape;
pub mod slack;
pub mod teams;

use time::OffsetDateTime;

use crate::alert::{
    ActionNotice, Baseline, Change, Digest, DigestEntry, Message, OperationsNotice, PostureAlert,
    SnoozeEvent, SnoozeNotice, Summary, UserAlert,
};
use crate::catalogue;
use crate::context::Lookup;
use crate::risk::{RiskDetection, RiskLevel, RiskState};
use crate::verdict::Verdict;

/// Colour and symbol of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Critical,
    High,
    Medium,
    Low,
    Good,
    Neutral,
    Warning,
}

impl Tone {
    pub fn emoji(self) -> &'static str {
        match self {
            Self::Critical => "⛔",
            Self::High => "🔴",
            Self::Medium => "🟠",
            Self::Low => "🟡",
            Self::Good => "✅",
            Self::Neutral => "⚪",
            Self::Warning => "⚠️",
        }
    }

    fn for_level(level: &RiskLevel) -> Self {
        match level {
            RiskLevel::High => Self::High,
            RiskLevel::Medium => Self::Medium,
            RiskLevel::Low => Self::Low,
            _ => Self::Warning,
        }
    }
}

/// A piece of text. `data` marks text that came from outside (Graph, the directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    pub bold: bool,
    pub data: bool,
}

impl Run {
    pub fn fixed(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            bold: false,
            data: false,
        }
    }
    pub fn data(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            bold: false,
            data: true,
        }
    }
    pub fn bold(mut self) -> Self {
        self.bold = true;
        self
    }
}

/// A list whose tail may be cut: `noun` names its items in "+N more {noun}".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    pub heading: String,
    pub noun: &'static str,
    pub items: Vec<Vec<Run>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callout {
    pub tone: Tone,
    pub headline: String,
    pub text: Vec<Run>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub tone: Tone,
    /// Fixed text only.
    pub title: String,
    pub lead: Vec<Run>,
    pub status: Vec<Run>,
    /// Label (fixed) and value (data).
    pub facts: Vec<(String, String)>,
    pub lists: Vec<List>,
    pub callout: Option<Callout>,
    pub footer: String,
    /// One plain line for notifications (Slack's `text`, read by mobile clients).
    pub fallback: String,
    /// Buttons that open a page: a fixed label and a URL built from validated ids only.
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub label: &'static str,
    pub url: String,
}

/// Longest single-line value shown (a display name, a UPN, a location).
pub const FIELD_MAX: usize = 200;

pub fn time_text(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn level_word(level: &RiskLevel) -> String {
    level.to_string()
}

fn state_words(state: &RiskState) -> String {
    match state {
        RiskState::AtRisk => "at risk".into(),
        RiskState::ConfirmedCompromised => "confirmed compromised".into(),
        RiskState::ConfirmedSafe => "confirmed safe".into(),
        RiskState::Remediated => "remediated".into(),
        RiskState::Dismissed => "dismissed".into(),
        RiskState::None => "no risk".into(),
        other => other.to_string(),
    }
}

/// `hidden` is no point on the low/medium/high scale: Graph withholds the level from this app.
fn is_hidden(level: &RiskLevel) -> bool {
    *level == RiskLevel::Hidden
}

/// A risk that ended with no detail naming how, in state `none`: Microsoft documents no
/// remediation behind it (low-risk users age out after six months), so it is not "remediated".
fn ended_unexplained(a: &UserAlert) -> bool {
    matches!(&a.change, Change::Remediated { how } if !how.names_an_ending())
        && a.user.risk_state == RiskState::None
}

fn change_title(change: &Change, level: &RiskLevel) -> (Tone, String) {
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

fn change_label(change: &Change) -> &'static str {
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

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn yes_no(b: Option<bool>) -> String {
    match b {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "not reported".into(),
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
    if let Some(t) = d.when() {
        runs.push(Run::fixed(format!(" · {}", time_text(t))));
    }
    if let Some(ip) = d.ip_address.as_deref().filter(|s| !s.is_empty()) {
        runs.push(Run::fixed(" · "));
        runs.push(Run::data(escape::truncate(&escape::single_line(ip), 64)));
    }
    if let Some(loc) = d.location.as_ref().and_then(|l| l.display()) {
        runs.push(Run::fixed(" ("));
        runs.push(Run::data(escape::truncate(&escape::single_line(&loc), 100)));
        runs.push(Run::fixed(")"));
    }
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

fn verdict_callout(v: &Verdict) -> Callout {
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

pub fn short_ref(key: &str) -> String {
    crate::alert::keys::fingerprint([key])
}

fn user_view(a: &UserAlert) -> View {
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
        facts.push((
            "Snoozed".into(),
            format!(
                "by {} until {}: {} (this alert breaks through)",
                escape::truncate(&escape::single_line(&s.by), FIELD_MAX),
                time_text(s.until),
                escape::truncate(&escape::single_line(&s.reason), crate::snooze::REASON_MAX)
            ),
        ));
    }
    if let Some(n) = &a.acted {
        facts.push(("Action".into(), acted_text(n)));
    }
    let mut lists = Vec::new();
    if !a.detections.is_empty() {
        lists.push(List {
            heading: if matches!(a.change, Change::NewRisk | Change::ConfirmedCompromised) {
                "Detections".into()
            } else {
                "New detections".into()
            },
            noun: "detections",
            items: a.detections.iter().map(detection_item).collect(),
        });
    }
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
fn user_links(a: &UserAlert) -> Vec<Link> {
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
    links.extend(a.actions.iter().map(|b| Link {
        label: b.action.label(),
        url: b.url.clone(),
    }));
    links
}

fn posture_view(p: &PostureAlert) -> View {
    let tone = if p.resolved {
        Tone::Good
    } else {
        Tone::Warning
    };
    let mut lists = vec![List {
        heading: "Why it matters".into(),
        noun: "notes",
        items: vec![vec![Run::data(p.why.clone())]],
    }];
    if let Some(action) = &p.action {
        lists.push(List {
            heading: "What to do".into(),
            noun: "steps",
            items: vec![vec![Run::data(action.clone())]],
        });
    }
    View {
        tone,
        title: p.title.clone(),
        lead: Vec::new(),
        status: vec![Run::data(p.detail.clone())],
        facts: Vec::new(),
        lists,
        callout: None,
        footer: format!(
            "riskrelay · tenant {} · {} · {} · ref {}",
            p.tenant_id,
            p.kind,
            time_text(p.at),
            short_ref(&p.key)
        ),
        fallback: format!("{} {}: {}", tone.emoji(), p.title, p.detail),
        links: Vec::new(),
    }
}

/// A list line's start: the name in bold, then the user principal name in parentheses.
fn who(display_name: &str, upn: Option<&String>) -> Vec<Run> {
    let mut runs = vec![Run::data(escape::truncate(&escape::single_line(display_name), 80)).bold()];
    if let Some(u) = upn {
        runs.push(Run::fixed(" ("));
        runs.push(Run::data(escape::truncate(&escape::single_line(u), 80)));
        runs.push(Run::fixed(")"));
    }
    runs
}

fn entry_item(e: &DigestEntry) -> Vec<Run> {
    let mut runs = who(&e.display_name, e.upn.as_ref());
    runs.push(Run::fixed(format!(
        " — {} · {}",
        level_word(&e.level),
        change_label(&e.change)
    )));
    if let Some(t) = &e.top_detection {
        runs.push(Run::fixed(" · "));
        runs.push(Run::data(escape::truncate(&escape::single_line(t), 80)));
    }
    runs
}

fn digest_view(d: &Digest) -> View {
    let n = d.entries.len();
    let high = d
        .entries
        .iter()
        .filter(|e| e.level == RiskLevel::High)
        .count();
    let medium = d
        .entries
        .iter()
        .filter(|e| e.level == RiskLevel::Medium)
        .count();
    let tone = if high > 0 {
        Tone::High
    } else if medium > 0 {
        Tone::Medium
    } else {
        Tone::Low
    };
    let title = format!("{n} user risk changes in one cycle");
    View {
        tone,
        title: title.clone(),
        lead: Vec::new(),
        status: vec![Run::fixed(format!(
            "High {high} · medium {medium} · other {}",
            n - high - medium
        ))],
        facts: Vec::new(),
        lists: vec![List {
            heading: "Users".into(),
            noun: "users",
            items: d.entries.iter().map(entry_item).collect(),
        }],
        callout: Some(Callout {
            tone: Tone::Neutral,
            headline: "Why a digest".into(),
            text: vec![Run::fixed(
                "Many users changed at once (a password spray looks like this), so they are listed together instead of one message each.",
            )],
        }),
        footer: format!(
            "riskrelay · tenant {} · digest · ref {}",
            d.tenant_id,
            short_ref(&d.key)
        ),
        fallback: format!("{} {title} (high {high}, medium {medium})", tone.emoji()),
        links: Vec::new(),
    }
}

fn baseline_view(b: &Baseline) -> View {
    let title = format!("riskrelay is watching: {} users already at risk", b.total());
    View {
        tone: if b.high > 0 {
            Tone::High
        } else {
            Tone::Neutral
        },
        title: title.clone(),
        lead: Vec::new(),
        status: {
            let mut status = vec![Run::fixed(format!(
                "High {} · medium {} · low {} · other {}",
                b.high, b.medium, b.low, b.other
            ))];
            if b.deleted > 0 {
                status.push(Run::fixed(format!(
                    " · {} deleted account{} still listed with risk, not counted",
                    b.deleted,
                    if b.deleted == 1 { "" } else { "s" }
                )));
            }
            status
        },
        facts: Vec::new(),
        lists: if b.top.is_empty() {
            Vec::new()
        } else {
            vec![List {
                heading: "Riskiest users".into(),
                noun: "users",
                items: b.top.iter().map(entry_item).collect(),
            }]
        },
        callout: Some(Callout {
            tone: Tone::Neutral,
            headline: "From now on".into(),
            text: vec![Run::fixed(
                "This is the risk that existed before riskrelay started. Each change from here on is posted as it happens.",
            )],
        }),
        footer: format!(
            "riskrelay · tenant {} · baseline · ref {}",
            b.tenant_id,
            short_ref(&b.key)
        ),
        fallback: format!("ℹ️ {title} (high {}, medium {})", b.high, b.medium),
        links: Vec::new(),
    }
}

fn operations_view(o: &OperationsNotice) -> View {
    View {
        tone: Tone::Warning,
        title: o.title.clone(),
        lead: Vec::new(),
        status: Vec::new(),
        facts: Vec::new(),
        lists: vec![List {
            heading: "Details".into(),
            noun: "lines",
            items: o
                .lines
                .iter()
                .map(|l| vec![Run::data(escape::truncate(&escape::single_line(l), 300))])
                .collect(),
        }],
        callout: Some(Callout {
            tone: Tone::Warning,
            headline: "What to do".into(),
            text: vec![Run::fixed(o.action.clone())],
        }),
        footer: format!(
            "riskrelay · tenant {} · operations · {} · ref {}",
            o.tenant_id,
            time_text(o.at),
            short_ref(&o.key)
        ),
        fallback: format!("{} {}", Tone::Warning.emoji(), o.title),
        links: Vec::new(),
    }
}

/// "Confirmed compromised by secops@contoso.com at 2026-11-25 10:42 UTC (from riskrelay)".
fn acted_text(n: &ActionNotice) -> String {
    format!(
        "{} by {} at {} (from riskrelay)",
        n.action.done(),
        escape::truncate(&escape::single_line(&n.by), FIELD_MAX),
        time_text(n.at)
    )
}

fn action_view(n: &ActionNotice) -> View {
    let user = escape::truncate(&escape::single_line(&n.user), FIELD_MAX);
    let by = escape::truncate(&escape::single_line(&n.by), FIELD_MAX);
    let title = n.action.done();
    View {
        tone: Tone::Neutral,
        title: title.into(),
        lead: vec![Run::data(user.clone()).bold()],
        status: vec![
            Run::fixed(format!("{title} by ")),
            Run::data(by.clone()).bold(),
            Run::fixed(format!(" at {}", time_text(n.at))),
        ],
        facts: vec![("From alert".into(), short_ref(&n.alert_key))],
        lists: Vec::new(),
        callout: None,
        footer: format!(
            "riskrelay · tenant {} · action · ref {}",
            n.tenant_id,
            short_ref(&n.key)
        ),
        fallback: format!("{} {title}: {user} by {by}", Tone::Neutral.emoji()),
        links: Vec::new(),
    }
}

fn snooze_view(n: &SnoozeNotice) -> View {
    let s = &n.snooze;
    let user = escape::truncate(&escape::single_line(&s.user.to_string()), FIELD_MAX);
    let by = escape::truncate(&escape::single_line(&s.by), FIELD_MAX);
    let reason = escape::truncate(&escape::single_line(&s.reason), crate::snooze::REASON_MAX);
    let (tone, title, status, callout) = match &n.event {
        SnoozeEvent::Snoozed => (
            Tone::Neutral,
            "User snoozed",
            vec![
                Run::fixed("Snoozed by "),
                Run::data(by.clone()).bold(),
                Run::fixed(format!(" until {}", time_text(s.until))),
            ],
            Some(Callout {
                tone: Tone::Neutral,
                headline: "While snoozed".into(),
                text: vec![Run::fixed(
                    "New detections and changes at or below the current level are held back; an escalation above it, a confirmed compromise and the end of the risk are still posted.",
                )],
            }),
        ),
        SnoozeEvent::Cleared { by: lifted } => (
            Tone::Neutral,
            "Snooze lifted",
            vec![
                Run::fixed("Lifted by "),
                Run::data(escape::truncate(&escape::single_line(lifted), FIELD_MAX)).bold(),
                Run::fixed(format!("; snoozed by {by} since {}", time_text(s.at))),
            ],
            None,
        ),
        SnoozeEvent::Expired { still_at } => (
            if still_at.is_some() {
                Tone::Warning
            } else {
                Tone::Neutral
            },
            if still_at.is_some() {
                "Snooze ended: the user is still at risk"
            } else {
                "Snooze ended"
            },
            vec![Run::fixed(format!(
                "Snoozed by {by} from {} to {}",
                time_text(s.at),
                time_text(s.until)
            ))],
            still_at.as_ref().map(|level| Callout {
                tone: Tone::Warning,
                headline: "Still at risk".into(),
                text: vec![Run::fixed(format!(
                    "The user's risk is still {}: alerts about them are posted again from now on.",
                    level_word(level)
                ))],
            }),
        ),
    };
    let mut facts = vec![("Reason".to_string(), reason.clone())];
    if s.held > 0 {
        facts.push(("Held back".into(), format!("{} alerts", s.held)));
    }
    View {
        tone,
        title: title.into(),
        lead: vec![Run::data(user.clone()).bold()],
        status,
        facts,
        lists: Vec::new(),
        callout,
        footer: format!(
            "riskrelay · tenant {} · snooze · {} · ref {}",
            n.tenant_id,
            time_text(n.at),
            short_ref(&n.key)
        ),
        fallback: format!("{} {title}: {user} ({reason})", tone.emoji()),
        links: Vec::new(),
    }
}

fn summary_view(s: &Summary) -> View {
    let n = s.entries.len();
    let count = |l: RiskLevel| s.entries.iter().filter(|e| e.level == l).count();
    let (high, medium) = (count(RiskLevel::High), count(RiskLevel::Medium));
    let snoozed = s.entries.iter().filter(|e| e.snoozed.is_some()).count();
    let tone = if high > 0 {
        Tone::High
    } else if n > 0 {
        Tone::Medium
    } else {
        Tone::Good
    };
    let title = if n == 0 {
        "Summary: nobody is at risk".to_string()
    } else {
        format!("Summary: {n} user{} at risk", if n == 1 { "" } else { "s" })
    };
    let items = s
        .entries
        .iter()
        .map(|e| {
            let mut runs = who(&e.display_name, e.upn.as_ref());
            runs.push(Run::fixed(format!(
                " — {} · {}",
                level_word(&e.level),
                state_words(&e.state)
            )));
            match (e.at_risk_since, e.since) {
                (Some(t), _) => runs.push(Run::fixed(format!(
                    " · at risk for {}",
                    crate::summary::age(t, s.at)
                ))),
                (None, Some(t)) => runs.push(Run::fixed(format!(
                    " · last change {} ago",
                    crate::summary::age(t, s.at)
                ))),
                (None, None) => {}
            }
            if let Some(r) = &e.remediation {
                runs.push(Run::fixed(format!(" · {r}")));
            }
            if let Some(z) = &e.snoozed {
                runs.push(Run::fixed(" · snoozed by "));
                runs.push(Run::data(escape::truncate(&escape::single_line(&z.by), 80)));
                runs.push(Run::fixed(format!(" until {}", time_text(z.until))));
            }
            runs
        })
        .collect();
    let mut status = vec![Run::fixed(format!(
        "High {high} · medium {medium} · other {} · snoozed {snoozed}",
        n - high - medium
    ))];
    if s.excluded > 0 {
        status.push(Run::fixed(format!(
            " · {} excluded user{} not listed",
            s.excluded,
            if s.excluded == 1 { "" } else { "s" }
        )));
    }
    View {
        tone,
        title: title.clone(),
        lead: Vec::new(),
        status,
        facts: Vec::new(),
        lists: if n == 0 {
            Vec::new()
        } else {
            vec![List {
                heading: "Still at risk".into(),
                noun: "users",
                items,
            }]
        },
        callout: None,
        footer: format!(
            "riskrelay · tenant {} · summary · {} · ref {}",
            s.tenant_id,
            time_text(s.at),
            short_ref(&s.key)
        ),
        fallback: format!(
            "{} {title} (high {high}, medium {medium}, snoozed {snoozed})",
            tone.emoji()
        ),
        links: Vec::new(),
    }
}

pub fn view(message: &Message) -> View {
    match message {
        Message::User(a) => user_view(a),
        Message::Posture(p) => posture_view(p),
        Message::Digest(d) => digest_view(d),
        Message::Baseline(b) => baseline_view(b),
        Message::Operations(o) => operations_view(o),
        Message::Snooze(n) => snooze_view(n),
        Message::Action(n) => action_view(n),
        Message::Summary(s) => summary_view(s),
    }
}

/// Names the tenant a message is about, first among its facts and in its notification line, for
/// a channel that hears about several tenants. The name is data: each renderer escapes it.
pub fn name_tenant(view: &mut View, name: &str) {
    let name = escape::single_line(name);
    view.facts.insert(0, ("Tenant".into(), name.clone()));
    view.fallback = format!("[{name}] {}", view.fallback);
}

/// Plain text of runs, for the console and size estimates.
pub fn plain(runs: &[Run]) -> String {
    runs.iter().map(|r| r.text.as_str()).collect()
}
