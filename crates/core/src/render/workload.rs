//! The view of a workload identity's alert: the change, the service principal or agent, the
//! credential a detection names, its owners and reach, and what the team can do.

use super::user::{change_label, detections_list, is_hidden, when_and_where};
use super::*;
use crate::workload::{WorkloadAlert, WorkloadDetection, WorkloadKind, detection_name};

fn title(a: &WorkloadAlert) -> (Tone, String) {
    let noun = capitalise(a.workload.kind.noun());
    let level = &a.workload.risk_level;
    let lw = if is_hidden(level) {
        "hidden".to_string()
    } else {
        level_word(level)
    };
    match &a.change {
        Change::NewRisk => (Tone::for_level(level), format!("{noun} at risk ({lw})")),
        Change::Escalated { .. } => (
            Tone::for_level(level),
            format!("{noun} risk raised to {lw}"),
        ),
        Change::Lowered { .. } => (
            Tone::for_level(level),
            format!("{noun} risk lowered to {lw}"),
        ),
        Change::NewDetections => (
            Tone::for_level(level),
            format!("New detections for a {lw}-risk {}", a.workload.kind.noun()),
        ),
        Change::Remediated { .. } => (Tone::Good, format!("{noun} no longer at risk")),
        Change::Dismissed { .. } => (Tone::Neutral, format!("{noun} risk dismissed")),
        Change::ConfirmedCompromised => (Tone::Critical, format!("{noun} confirmed compromised")),
    }
}

fn detection(d: &WorkloadDetection) -> Vec<Run> {
    let name = detection_name(&d.risk_event_type);
    let mut runs = vec![
        if name == d.risk_event_type {
            Run::data(escape::truncate(&escape::single_line(&name), 80))
        } else {
            Run::fixed(name)
        }
        .bold(),
    ];
    runs.push(Run::fixed(format!(" — {} risk", level_word(&d.risk_level))));
    when_and_where(
        &mut runs,
        d.when(),
        d.ip_address.as_deref(),
        d.location.as_ref(),
    );
    if !d.evidence.is_empty() {
        runs.push(Run::fixed(" · evidence: "));
        runs.push(Run::data(escape::truncate(
            &escape::single_line(&d.evidence.join("; ")),
            FIELD_MAX,
        )));
    }
    runs
}

fn line(v: &str) -> String {
    escape::truncate(&escape::single_line(v), FIELD_MAX)
}

pub(super) fn workload_view(a: &WorkloadAlert) -> View {
    let (tone, title) = title(a);
    let w = &a.workload;
    let name = line(&a.display_name());
    let lead = vec![
        Run::data(name.clone()).bold(),
        Run::fixed(format!(" ({})", w.kind.noun())),
    ];
    let mut status = vec![
        Run::fixed("Risk "),
        Run::fixed(level_word(&w.risk_level)).bold(),
    ];
    if let Some((prev, _)) = &a.previous
        && prev != &w.risk_level
    {
        status.push(Run::fixed(format!(" (was {})", level_word(prev))));
    }
    status.push(Run::fixed(format!(" · {}", state_words(&w.risk_state))));
    if let Change::Remediated { how } | Change::Dismissed { how } = &a.change {
        status.push(Run::fixed(" · how it ended: "));
        status.push(Run::data(how.plain()));
    }
    let mut facts: Vec<(String, String)> = Vec::new();
    facts.push(("Object id".into(), line(&w.id)));
    let context = a.context.found();
    if let Some(app) = context.and_then(|c| c.app_id.clone()).or(w.app_id.clone()) {
        facts.push(("App id".into(), line(&app)));
    }
    if let Some(t) = context
        .and_then(|c| c.service_principal_type.clone())
        .or(w.workload_type.clone())
    {
        facts.push(("Type".into(), line(&t)));
    }
    let enabled = context.and_then(|c| c.account_enabled).or(w.is_enabled);
    facts.push((
        "Sign-in".into(),
        match enabled {
            Some(true) => "enabled".into(),
            Some(false) => "disabled".into(),
            None => "not reported".into(),
        },
    ));
    if let Some(s) = &a.snoozed {
        facts.push(super::notices::snoozed_fact(s));
    }
    if let Some(n) = &a.acted {
        facts.push(("Action".into(), super::notices::acted_text(n)));
    }
    let mut lists = Vec::new();
    match &a.context {
        Lookup::Found(c) => {
            facts.push((
                "Published by".into(),
                match c.owner_organization {
                    Some(o) if o == a.tenant_id => "this organisation".into(),
                    Some(o) => format!("another organisation (tenant {o})"),
                    None => "not reported".into(),
                },
            ));
            if !c.owners.is_empty() {
                facts.push(("Owners".into(), line(&c.owners.join(", "))));
            } else {
                facts.push(("Owners".into(), "none recorded".into()));
            }
            let privileged = c.privileged_permissions();
            let roles = c.privileged_roles();
            let reach = if privileged.is_empty() && roles.is_empty() {
                format!(
                    "{} Microsoft Graph permission(s), none privileged; {} on other APIs",
                    c.graph_permissions.len(),
                    c.other_permissions
                )
            } else {
                let mut parts: Vec<String> = Vec::new();
                if !privileged.is_empty() {
                    parts.push(format!(
                        "privileged Graph permissions: {}",
                        privileged.join(", ")
                    ));
                }
                if !roles.is_empty() {
                    parts.push(format!("privileged directory roles: {}", roles.join(", ")));
                }
                parts.join("; ")
            };
            facts.push(("Reach".into(), line(&reach)));
            let mut creds: Vec<Vec<Run>> = c
                .named_credentials
                .iter()
                .map(|k| {
                    let mut r = vec![Run::fixed(capitalise(&k.kind)).bold(), Run::fixed(" ")];
                    r.push(Run::data(line(
                        k.display_name.as_deref().unwrap_or(&k.key_id),
                    )));
                    if let Some(s) = k.start {
                        r.push(Run::fixed(format!(" · created {}", time_text(s))));
                    }
                    if let Some(e) = k.end {
                        r.push(Run::fixed(format!(" · expires {}", time_text(e))));
                    }
                    r
                })
                .collect();
            creds.extend(c.unmatched_key_ids.iter().map(|k| {
                vec![
                    Run::fixed("Key "),
                    Run::data(line(k)),
                    Run::fixed(" (not held here: the app's home tenant has it)"),
                ]
            }));
            if !creds.is_empty() {
                lists.push(List {
                    heading: "Credential named".into(),
                    noun: "credentials",
                    items: creds,
                });
            }
        }
        // An agent identity need not be readable as a service principal: nothing to say then.
        Lookup::NotFound if w.kind == WorkloadKind::Agent => {}
        Lookup::NotFound => facts.push((
            "Directory".into(),
            format!("the {} no longer exists", w.kind.noun()),
        )),
        Lookup::Unavailable { reason } => facts.push((
            "Directory".into(),
            escape::truncate(&format!("could not be read: {reason}"), FIELD_MAX),
        )),
    }
    lists.extend(detections_list(
        &a.change,
        a.detections.iter().map(detection).collect(),
    ));
    let callout = (!a.steps.is_empty()).then(|| Callout {
        tone: Tone::Warning,
        headline: "What to do".into(),
        text: a
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| Run::fixed(format!("{}{}. {s}", if i > 0 { "\n" } else { "" }, i + 1)))
            .collect(),
    });
    let mut fallback = format!("{} {title}: {name}", tone.emoji());
    if let Some(d) = a.detections.first() {
        fallback.push_str(&format!(" · {}", line(&detection_name(&d.risk_event_type))));
    }
    let mut links = Vec::new();
    if w.kind == WorkloadKind::ServicePrincipal
        && let Some(url) =
            a.admin_center
                .service_principal_url(a.tenant_id, &w.id, w.app_id.as_deref())
    {
        links.push(Link {
            label: "Open app in Entra",
            url,
        });
    }
    // Teams shows at most five card actions: with four action buttons beside the app's page, the
    // report (one click away from it) gives way.
    if links.is_empty() || a.actions.len() < 4 {
        links.push(Link {
            label: "Risky workload identities",
            url: a.admin_center.risky_workloads_url(a.tenant_id, w.kind),
        });
    }
    links.extend(a.actions.iter().map(Link::from));
    View {
        tone,
        title,
        lead,
        status,
        facts,
        lists,
        callout,
        footer: format!(
            "riskrelay · tenant {} · {} {} · ref {}",
            a.tenant_id,
            w.kind.name(),
            change_label(&a.change),
            short_ref(&a.key)
        ),
        fallback,
        links,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action_link::{ActionButton, ActionKind};
    use crate::workload::RiskyWorkload;

    fn alert(kind: WorkloadKind) -> WorkloadAlert {
        let workload: RiskyWorkload = serde_json::from_value(serde_json::json!({
            "kind": kind, "id": "7d3c1a52-4b0e-4c1f-9a57-0e1f2a3b4c5d",
            "appId": "0b7c2e19-55aa-4d2e-b1a0-9f8e7d6c5b4a", "displayName": "Build pipeline",
            "riskLevel": "high", "riskState": "atRisk"
        }))
        .unwrap();
        WorkloadAlert {
            key: "workload/1".into(),
            tenant_id: crate::ids::TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap(),
            change: crate::alert::Change::NewRisk,
            previous: None,
            detections: Vec::new(),
            context: Lookup::NotFound,
            steps: Vec::new(),
            episode_start: None,
            admin_center: Default::default(),
            told: Vec::new(),
            actions: crate::action_link::ActionKind::offered(Some(kind))
                .iter()
                .map(|&action| ActionButton {
                    action,
                    url: format!("https://riskrelay.example.net/actions/{}", action.name()),
                    workload: Some(kind),
                })
                .collect(),
            acted: None,
            snoozed: None,
            workload,
        }
    }

    /// Teams shows at most five card actions: every button offered still fits beside the links.
    #[test]
    fn every_offered_button_fits_a_teams_card() {
        for kind in WorkloadKind::ALL {
            let a = alert(kind);
            assert_eq!(a.actions.len(), 4, "{kind:?}");
            let view = workload_view(&a);
            assert!(view.links.len() <= 5, "{kind:?}: {:?}", view.links.len());
            let labels: Vec<&str> = view.links.iter().map(|l| l.label).collect();
            assert!(labels.contains(&ActionKind::Snooze.label()), "{labels:?}");
            match kind {
                WorkloadKind::ServicePrincipal => {
                    assert_eq!(labels[0], "Open app in Entra", "{labels:?}")
                }
                WorkloadKind::Agent => {
                    assert_eq!(labels[0], "Risky workload identities", "{labels:?}")
                }
            }
        }
        let mut fewer = alert(WorkloadKind::ServicePrincipal);
        fewer.actions.truncate(3);
        let labels: Vec<&str> = workload_view(&fewer)
            .links
            .iter()
            .map(|l| l.label)
            .collect();
        assert!(labels.contains(&"Risky workload identities"), "{labels:?}");
    }
}
