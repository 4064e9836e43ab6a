//! The views that list many users: a burst's digest, the first poll's baseline and the standing summary.

use super::user::change_label;
use super::*;
use crate::workload::WorkloadKind;

pub(super) fn entry_item(e: &DigestEntry) -> Vec<Run> {
    let mut runs = Vec::new();
    if let Some(tenant) = &e.tenant {
        runs.push(Run::fixed("["));
        runs.push(Run::data(escape::truncate(
            &escape::single_line(tenant),
            60,
        )));
        runs.push(Run::fixed("] "));
    }
    runs.extend(who(&e.display_name, e.upn.as_ref()));
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

pub(super) fn digest_view(d: &Digest) -> View {
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
    let mut tenants: Vec<&str> = d
        .entries
        .iter()
        .filter_map(|e| e.tenant.as_deref())
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    let across = !tenants.is_empty();
    let title = if across {
        format!("{n} user risk changes across {} tenants", tenants.len())
    } else {
        format!("{n} user risk changes in one cycle")
    };
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
            text: vec![Run::fixed(if across {
                "Many users changed at once in several of the tenants this channel hears about (a spray across customers looks like this), so they are listed together, each with its tenant, instead of one message each."
            } else {
                "Many users changed at once (a password spray looks like this), so they are listed together instead of one message each."
            })],
        }),
        footer: if across {
            format!(
                "riskrelay · digest across tenants · ref {}",
                short_ref(&d.key)
            )
        } else {
            format!(
                "riskrelay · tenant {} · digest · ref {}",
                d.tenant_id,
                short_ref(&d.key)
            )
        },
        fallback: format!("{} {title} (high {high}, medium {medium})", tone.emoji()),
        links: Vec::new(),
    }
}

pub(super) fn baseline_view(b: &Baseline) -> View {
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

pub(super) fn summary_view(s: &Summary) -> View {
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
    let w = s.workloads.len();
    let users = format!("{n} user{}", if n == 1 { "" } else { "s" });
    let title = match (n, w) {
        (0, 0) => "Summary: nobody is at risk".to_string(),
        (_, 0) => format!("Summary: {users} at risk"),
        (_, w) => format!(
            "Summary: {users} and {w} workload identit{} at risk",
            if w == 1 { "y" } else { "ies" }
        ),
    };
    let tone = if s.workloads.iter().any(|e| e.level == RiskLevel::High) {
        Tone::High
    } else if tone == Tone::Good && w > 0 {
        Tone::Medium
    } else {
        tone
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
    if w > 0 {
        let of = |k| s.workloads.iter().filter(|e| e.kind == k).count();
        let (sps, agents) = (of(WorkloadKind::ServicePrincipal), of(WorkloadKind::Agent));
        status.push(Run::fixed(format!(
            " · workload identities, counted apart from users: {sps} service principal{} and {agents} agent{}",
            if sps == 1 { "" } else { "s" },
            if agents == 1 { "" } else { "s" },
        )));
    }
    let mut lists = Vec::new();
    if n > 0 {
        lists.push(List {
            heading: "Still at risk".into(),
            noun: "users",
            items,
        });
    }
    if w > 0 {
        lists.push(List {
            heading: "Workload identities still at risk".into(),
            noun: "workload identities",
            items: s
                .workloads
                .iter()
                .map(|e| {
                    let mut runs = vec![
                        Run::data(escape::truncate(&escape::single_line(&e.name), 80)).bold(),
                        Run::fixed(format!(
                            " ({}) — {} · {}",
                            e.kind.noun(),
                            level_word(&e.level),
                            state_words(&e.state)
                        )),
                    ];
                    if let Some(t) = e.since {
                        runs.push(Run::fixed(format!(
                            " · last change {} ago",
                            crate::summary::age(t, s.at)
                        )));
                    }
                    runs
                })
                .collect(),
        });
    }
    View {
        tone,
        title: title.clone(),
        lead: Vec::new(),
        status,
        facts: Vec::new(),
        lists,
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
