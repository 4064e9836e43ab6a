//! The views of the tenant's notices: posture findings, operations messages, actions taken and snoozes.

use super::*;

pub(super) fn posture_view(p: &PostureAlert) -> View {
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

pub(super) fn operations_view(o: &OperationsNotice) -> View {
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

/// The fact on an alert that broke through a snooze: who snoozed, until when, why.
pub(super) fn snoozed_fact(s: &crate::snooze::SnoozedNote) -> (String, String) {
    (
        "Snoozed".into(),
        format!(
            "by {} until {}: {} (this alert breaks through)",
            escape::truncate(&escape::single_line(&s.by), FIELD_MAX),
            time_text(s.until),
            escape::truncate(&escape::single_line(&s.reason), crate::snooze::REASON_MAX)
        ),
    )
}

/// "Confirmed compromised by secops@contoso.com at 2026-11-25 10:42 UTC (from riskrelay)".
pub(super) fn acted_text(n: &ActionNotice) -> String {
    format!(
        "{} by {} at {} (from riskrelay)",
        n.done(),
        escape::truncate(&escape::single_line(&n.by), FIELD_MAX),
        time_text(n.at)
    )
}

pub(super) fn action_view(n: &ActionNotice) -> View {
    let user = escape::truncate(&escape::single_line(&n.user), FIELD_MAX);
    let by = escape::truncate(&escape::single_line(&n.by), FIELD_MAX);
    let title = n.done();
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

pub(super) fn snooze_view(n: &SnoozeNotice) -> View {
    let s = &n.snooze;
    let user = escape::truncate(&escape::single_line(&s.subject.to_string()), FIELD_MAX);
    let noun = s.noun();
    let by = escape::truncate(&escape::single_line(&s.by), FIELD_MAX);
    let reason = escape::truncate(&escape::single_line(&s.reason), crate::snooze::REASON_MAX);
    let (tone, title, status, callout) = match &n.event {
        SnoozeEvent::Snoozed => (
            Tone::Neutral,
            format!("{} snoozed", super::capitalise(noun)),
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
            "Snooze lifted".to_string(),
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
                format!("Snooze ended: the {noun} is still at risk")
            } else {
                "Snooze ended".to_string()
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
                    "The {noun}'s risk is still {}: alerts about {} are posted again from now on.",
                    level_word(level),
                    if noun == "user" { "them" } else { "it" }
                ))],
            }),
        ),
    };
    let mut facts = vec![("Reason".to_string(), reason.clone())];
    if s.held > 0 {
        facts.push((
            "Held back".into(),
            format!("{} alert{}", s.held, if s.held == 1 { "" } else { "s" }),
        ));
    }
    View {
        tone,
        title: title.clone(),
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
