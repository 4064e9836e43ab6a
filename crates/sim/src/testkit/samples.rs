//! Sample messages of every kind, for the render snapshots and the payload validators.

//! Representative alerts for rendering and delivery tests.

use riskrelay::alert::{
    AlertKind, Baseline, Change, Digest, DigestEntry, Message, PostureAlert, SnoozeEvent,
    SnoozeNotice, Summary, UserAlert,
};
use riskrelay::context::{Lookup, ManagerRef, Registration, UserContext};
use riskrelay::ids::{TenantId, UserId};
use riskrelay::risk::*;
use riskrelay::summary::SummaryEntry;
use riskrelay::verdict::Verdict;
use time::macros::datetime;

pub fn tenant() -> TenantId {
    TenantId::parse(super::TENANT).unwrap()
}

pub fn detection(n: usize, kind: &str, activity: &str) -> RiskDetection {
    RiskDetection {
        id: format!("{n:064x}"),
        user_id: UserId::parse(super::USER_1).unwrap(),
        risk_event_type: kind.into(),
        risk_level: RiskLevel::High,
        risk_state: RiskState::AtRisk,
        risk_detail: RiskDetail::None,
        detection_timing_type: DetectionTimingType::Offline,
        activity: Some(activity.into()),
        source: Some("IdentityProtection".into()),
        ip_address: Some(format!("203.0.113.{}", n % 250)),
        location: Some(SignInLocation {
            city: Some("Seattle".into()),
            state: Some("Washington".into()),
            country_or_region: Some("US".into()),
        }),
        activity_date_time: Some(
            datetime!(2026-11-25 10:42 UTC) - time::Duration::minutes(n as i64),
        ),
        detected_date_time: None,
        last_updated_date_time: None,
        user_display_name: None,
        user_principal_name: None,
        additional_info: Some("[{\"Key\":\"riskReasons\",\"Value\":[\"suspiciousIP\"]}]".into()),
    }
}

pub fn user_alert(change: Change, name: &str) -> UserAlert {
    let ongoing = change.is_ongoing();
    let (level, state, detail) = match &change {
        Change::Remediated { how } => (RiskLevel::None, RiskState::Remediated, how.clone()),
        Change::Dismissed { how } => (RiskLevel::None, RiskState::Dismissed, how.clone()),
        Change::ConfirmedCompromised => (
            RiskLevel::High,
            RiskState::ConfirmedCompromised,
            RiskDetail::AdminConfirmedUserCompromised,
        ),
        Change::Lowered { .. } => (RiskLevel::Medium, RiskState::AtRisk, RiskDetail::None),
        _ => (RiskLevel::High, RiskState::AtRisk, RiskDetail::None),
    };
    let id = UserId::parse(super::USER_1).unwrap();
    let user = RiskyUser {
        id,
        user_principal_name: Some("adsync2@contoso.com".into()),
        user_display_name: Some(name.into()),
        risk_level: level,
        risk_state: state,
        risk_detail: detail,
        risk_last_updated_date_time: Some(datetime!(2026-11-25 10:45 UTC)),
        is_deleted: false,
        is_processing: false,
    };
    let previous = match &change {
        Change::NewRisk | Change::ConfirmedCompromised => None,
        Change::Escalated { from } | Change::Lowered { from } => {
            Some((from.clone(), RiskState::AtRisk))
        }
        _ => Some((RiskLevel::High, RiskState::AtRisk)),
    };
    UserAlert {
        key: format!("user/{}/{id}/{}/1", super::TENANT, change.kind()),
        tenant_id: tenant(),
        detections: if ongoing { vec![detection(1, "userReportedSuspiciousActivity", "user")] } else { vec![] },
        change,
        user,
        previous,
        context: Lookup::Found(UserContext {
            id,
            display_name: Some(name.into()),
            user_principal_name: Some("adsync2@contoso.com".into()),
            department: Some("Finance".into()),
            job_title: Some("Accounts payable".into()),
            account_enabled: Some(true),
            on_premises_sync_enabled: Some(true),
            manager: Some(ManagerRef { display_name: Some("Megan Bowen".into()), user_principal_name: None }),
            user_type: Some("Member".into()),
        }),
        registration: Lookup::Found(Registration { is_mfa_registered: Some(true), is_sspr_registered: Some(false), is_sspr_enabled: Some(true), methods_registered: vec![], is_passwordless_capable: None }),
        detections_note: None,
        episode_start: None,
        admin_center: Default::default(),
        snoozed: None,
        actions: Vec::new(),
        acted: None,
        told: Vec::new(),
        verdict: ongoing.then(|| Verdict::OnPremises { how: "an ordinary password change on-premises (Ctrl+Alt+Del) reaches Entra through password hash sync and clears the risk".into() }),
    }
}

pub fn every_kind() -> Vec<(&'static str, Message)> {
    let u = |c: Change| Message::User(Box::new(user_alert(c, "Adsync User 2")));
    vec![
        ("new-risk", u(Change::NewRisk)),
        ("escalated", u(Change::Escalated { from: RiskLevel::Medium })),
        ("lowered", u(Change::Lowered { from: RiskLevel::High })),
        ("new-detections", u(Change::NewDetections)),
        ("remediated-on-prem", u(Change::Remediated { how: RiskDetail::UserChangedPasswordOnPremises })),
        ("dismissed", u(Change::Dismissed { how: RiskDetail::AdminDismissedAllRiskForUser })),
        ("confirmed-compromised", u(Change::ConfirmedCompromised)),
        ("posture-drift", Message::Posture(PostureAlert {
            key: "drift/1".into(),
            tenant_id: tenant(),
            kind: AlertKind::SettingDrift,
            title: "On-premises password change no longer resets user risk".into(),
            detail: "\"Allow on-premises password change to reset user risk\" was found off at 2026-11-25 10:40 UTC.".into(),
            why: "Hybrid users can no longer clear their own risk with an ordinary password change.".into(),
            action: Some("Turn it back on in ID Protection > Settings, or run riskrelay with RISKRELAY_DRIFT_MODE=enforce.".into()),
            resolved: false,
            at: datetime!(2026-11-25 10:40 UTC),
        })),
        ("digest", Message::Digest(Digest {
            key: "digest/1".into(),
            tenant_id: tenant(),
            entries: (0..40).map(|i| DigestEntry {
                display_name: format!("Spray Victim {i:02}"),
                upn: Some(format!("victim{i:02}@contoso.com")),
                change: Change::NewRisk,
                level: if i % 3 == 0 { RiskLevel::High } else { RiskLevel::Medium },
                top_detection: Some("Password spray".into()),
                tenant: None,
            }).collect(),
        })),
        ("digest-across-tenants", Message::Digest(Digest {
            key: "digest/across/1".into(),
            tenant_id: riskrelay::tenancy::deployment(),
            entries: (0..30).map(|i| DigestEntry {
                display_name: format!("Spray Victim {i:02}"),
                upn: Some(format!("victim{i:02}@customer{}.com", i % 3)),
                change: Change::NewRisk,
                level: if i % 4 == 0 { RiskLevel::High } else { RiskLevel::Medium },
                top_detection: Some("Password spray".into()),
                tenant: Some(["Contoso", "Fabrikam, Inc.", "Northwind <b>Traders</b>"][i % 3].into()),
            }).collect(),
        })),
        ("baseline", Message::Baseline(Baseline {
            key: "baseline/1".into(),
            tenant_id: tenant(),
            high: 2,
            medium: 5,
            low: 11,
            other: 0,
            top: vec![DigestEntry { display_name: "Alex Wilber".into(), upn: Some("alexw@contoso.com".into()), change: Change::NewRisk, level: RiskLevel::High, top_detection: Some("Leaked credentials".into()), tenant: None }],
            deleted: 0,
        })),
        ("new-risk-snoozed", {
            let mut a = user_alert(Change::Escalated { from: RiskLevel::Medium }, "Adsync User 2");
            a.key.push_str("/snoozed");
            a.snoozed = Some(riskrelay::snooze::SnoozedNote { by: "alice".into(), reason: "password reset booked with the helpdesk".into(), until: datetime!(2026-12-02 10:00 UTC) });
            Message::User(Box::new(a))
        }),
        ("snoozed", Message::Snooze(SnoozeNotice {
            key: "snooze/1/snoozed".into(),
            tenant_id: tenant(),
            snooze: snooze(0),
            event: SnoozeEvent::Snoozed,
            at: datetime!(2026-11-25 10:00 UTC),
        })),
        ("snooze-expired", Message::Snooze(SnoozeNotice {
            key: "snooze/1/expired".into(),
            tenant_id: tenant(),
            snooze: snooze(3),
            event: SnoozeEvent::Expired { still_at: Some(RiskLevel::High) },
            at: datetime!(2026-12-02 10:00 UTC),
        })),
        ("service-principal-snooze-expired", Message::Snooze(SnoozeNotice {
            key: "snooze/2/expired".into(),
            tenant_id: tenant(),
            snooze: riskrelay::snooze::Snooze {
                subject: riskrelay::snooze::Subject::App("0b7c2e19-55aa-4d2e-b1a0-9f8e7d6c5b4a".into()),
                user_id: None,
                workload: Some((riskrelay::workload::WorkloadKind::ServicePrincipal, "7d3c1a52-4b0e-4c1f-9a57-0e1f2a3b4c5d".into())),
                reason: "secret rotation under way (CHG-2231)".into(),
                ..snooze(1)
            },
            event: SnoozeEvent::Expired { still_at: Some(RiskLevel::High) },
            at: datetime!(2026-12-02 10:00 UTC),
        })),
        ("new-risk-with-actions", {
            let mut a = user_alert(Change::NewRisk, "Adsync User 2");
            a.key.push_str("/actions");
            a.actions = riskrelay::action_link::ActionKind::offered(None)
                .iter()
                .map(|&action| riskrelay::action_link::ActionButton {
                    action,
                    url: format!("https://riskrelay.contoso.com/actions/v1.{}.signature", action.name()),
                    workload: None,
                })
                .collect();
            Message::User(Box::new(a))
        }),
        ("action-taken", Message::Action(action_notice())),
        ("action-taken-on-a-service-principal", Message::Action(riskrelay::alert::ActionNotice {
            key: "action/2".into(),
            user: "Build pipeline".into(),
            action: riskrelay::action_link::ActionKind::Disable,
            by: "appsec@contoso.com".into(),
            workload: Some(riskrelay::workload::WorkloadKind::ServicePrincipal),
            ..action_notice()
        })),
        ("compromised-after-action", {
            let mut a = user_alert(Change::ConfirmedCompromised, "Adsync User 2");
            a.key.push_str("/acted");
            a.acted = Some(action_notice());
            Message::User(Box::new(a))
        }),
        ("summary", Message::Summary(Summary {
            key: "summary/1".into(),
            tenant_id: tenant(),
            entries: vec![
                SummaryEntry { display_name: "Alex Wilber".into(), upn: Some("alexw@contoso.com".into()), level: RiskLevel::High, state: RiskState::AtRisk, since: Some(datetime!(2026-11-22 09:00 UTC)), at_risk_since: Some(datetime!(2026-11-20 08:00 UTC)), remediation: Some("Needs an administrator".into()), snoozed: None },
                SummaryEntry { display_name: "Adsync User 2".into(), upn: Some("adsync2@contoso.com".into()), level: RiskLevel::Medium, state: RiskState::AtRisk, since: Some(datetime!(2026-11-26 06:30 UTC)), at_risk_since: None, remediation: Some("Can self-remediate on-premises".into()), snoozed: Some(riskrelay::snooze::SnoozedNote { by: "alice".into(), reason: "on it".into(), until: datetime!(2026-12-02 10:00 UTC) }) },
            ],
            excluded: 1,
            workloads: vec![riskrelay::summary::WorkloadEntry { kind: riskrelay::workload::WorkloadKind::ServicePrincipal, name: "Build pipeline".into(), level: RiskLevel::High, state: RiskState::AtRisk, since: Some(datetime!(2026-11-25 09:00 UTC)) }],
            at: datetime!(2026-11-26 08:00 UTC),
        })),
    ]
}

fn action_notice() -> riskrelay::alert::ActionNotice {
    riskrelay::alert::ActionNotice {
        key: "action/1".into(),
        tenant_id: tenant(),
        user_id: UserId::parse(super::USER_1).unwrap(),
        user: "adsync2@contoso.com".into(),
        action: riskrelay::action_link::ActionKind::Confirm,
        by: "secops@contoso.com".into(),
        at: datetime!(2026-11-25 10:42 UTC),
        alert_key: "user/1/newRisk/1".into(),
        workload: None,
    }
}

fn snooze(held: u32) -> riskrelay::snooze::Snooze {
    riskrelay::snooze::Snooze {
        subject: riskrelay::snooze::Subject::User(riskrelay::ids::UserRef::Upn(
            "adsync2@contoso.com".into(),
        )),
        workload: None,
        user_id: Some(UserId::parse(super::USER_1).unwrap()),
        level: Some(RiskLevel::Medium),
        by: "alice".into(),
        reason: "password reset booked with the helpdesk".into(),
        at: datetime!(2026-11-25 10:00 UTC),
        until: datetime!(2026-12-02 10:00 UTC),
        held,
        announced: true,
    }
}
