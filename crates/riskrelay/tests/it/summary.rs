//! The standing summary: asked for once per scheduled time by the poll cycle, built by the worker
//! from who Graph lists at risk.

use riskrelay::app::ServiceParts;
use riskrelay::exclusions::Exclusions;
use riskrelay::risk::{DetectionTimingType, RiskDetail, RiskLevel, RiskState};
use riskrelay::summary::Schedule;
use riskrelay_sim::{DetectionSpec, SimUser};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use riskrelay_sim::testkit::{TestApp, record_received};

#[tokio::test]
async fn the_summary_lists_who_is_still_at_risk_once_per_scheduled_time() {
    let mut t = TestApp::start().await;
    t.ok_sinks().await;
    t.save_posture(OffsetDateTime::now_utc()).await;
    t.settings.summary = Schedule::parse("08:00").unwrap();
    t.settings.policy.exclude = Exclusions::parse("breakglass@contoso.com").unwrap();
    let hana = t.high_risk_user(40, "Hana High", "hana");
    let mo = t.sim.add_user(SimUser::new(
        riskrelay_sim::testkit::uid(41),
        "Mo Medium",
        "mo",
    ));
    t.sim.detect(
        mo,
        DetectionSpec::new(
            "unfamiliarFeatures",
            "signin",
            RiskLevel::Medium,
            DetectionTimingType::Realtime,
        ),
    );
    t.high_risk_user(42, "Break Glass", "breakglass");
    let ed = t.high_risk_user(43, "Ed Ended", "ed");
    t.sim.end_risk(
        ed,
        RiskState::Remediated,
        RiskDetail::UserPerformedSecuredPasswordChange,
    );
    let snoozed = riskrelay::snooze::new(
        "mo@contoso.com",
        Duration::days(30),
        "travelling, reset on return",
        "alice",
        None,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    riskrelay::features::snooze::update(t.store.as_ref(), t.sim.tenant_id(), |b| {
        b.add(snoozed.clone())
    })
    .await
    .unwrap();
    let app = t.build::<ServiceParts>(None);
    let poller = app.poller.clone();
    // Hana's risk went through a cycle, so riskrelay knows when her episode began.
    app.worker
        .process(&[riskrelay_sim::testkit::hint(
            &t,
            riskrelay::observation::Subject::RiskyUser { user_id: hana },
        )])
        .await;
    assert_eq!(t.posts().await, (1, 1));

    // A new deployment waits for the next scheduled time instead of posting at installation.
    let installed = datetime!(2026-11-26 10:00 UTC);
    assert!(!poller.ask_for_summary(installed).await.unwrap());
    assert!(
        !poller
            .ask_for_summary(installed + Duration::hours(21))
            .await
            .unwrap()
    );
    assert_eq!(t.posts().await, (1, 1), "no summary yet");
    let next = datetime!(2026-11-27 08:01 UTC);
    assert!(poller.ask_for_summary(next).await.unwrap());
    assert!(
        !poller
            .ask_for_summary(next + Duration::hours(1))
            .await
            .unwrap(),
        "once per scheduled time"
    );
    assert_eq!(t.posts().await, (2, 2), "one message per destination");

    let body = t.slack.received_requests().await.unwrap()[1].body.clone();
    let text = serde_json::from_slice::<serde_json::Value>(&body)
        .unwrap()
        .to_string();
    assert!(text.contains("Summary: 2 users at risk"), "{text}");
    let (hana, mo) = (text.find("Hana High"), text.find("Mo Medium"));
    assert!(
        hana.is_some() && mo.is_some() && hana < mo,
        "the riskiest first: {text}"
    );
    for absent in ["Break Glass", "Ed Ended"] {
        assert!(!text.contains(absent), "{absent}: {text}");
    }
    assert!(
        text.contains("1 excluded user not listed")
            && text.contains("snoozed by alice")
            && text.contains("Can self-remediate"),
        "{text}"
    );
    // Hana's episode is known; Mo never went through a cycle, so the last change is shown.
    assert!(
        text.contains("(hana@contoso.com) — high · at risk · at risk for")
            && text.contains("(mo@contoso.com) — medium · at risk · last change"),
        "{text}"
    );
    record_received("slack", "summary", &t.slack).await;
    record_received("teams", "summary", &t.teams).await;
}

#[tokio::test]
async fn the_summary_lists_risky_workload_identities_counted_apart_from_users() {
    use riskrelay::workload::WorkloadKind;
    let mut t = TestApp::start().await;
    t.ok_sinks().await;
    t.save_posture(OffsetDateTime::now_utc()).await;
    t.settings.summary = Schedule::parse("08:00").unwrap();
    t.settings.workloads = WorkloadKind::ALL.to_vec();
    // An excluded app is neither alerted nor listed.
    t.settings.policy.exclude =
        Exclusions::parse("app:0b7c2e19-55aa-4d2e-b1a0-000000000002").unwrap();
    let app = t.build::<ServiceParts>(None);
    let poller = app.poller.clone();
    poller.poll().await.unwrap();
    t.high_risk_user(40, "Hana High", "hana");
    for (id, app_id, name) in [
        (
            "7d3c1a52-4b0e-4c1f-9a57-000000000001",
            "0b7c2e19-55aa-4d2e-b1a0-000000000001",
            "Build pipeline",
        ),
        (
            "7d3c1a52-4b0e-4c1f-9a57-000000000002",
            "0b7c2e19-55aa-4d2e-b1a0-000000000002",
            "Lab app",
        ),
    ] {
        t.sim
            .add_service_principal(riskrelay_sim::SimServicePrincipal::new(id, app_id, name));
        t.sim.set_workload_risk(
            WorkloadKind::ServicePrincipal,
            id,
            RiskLevel::High,
            RiskState::AtRisk,
            RiskDetail::None,
        );
    }
    t.sim.set_workload_risk(
        WorkloadKind::Agent,
        "a9e1c0de-7a11-4e2b-8c3d-5e6f7a8b9c0d",
        RiskLevel::Medium,
        RiskState::AtRisk,
        RiskDetail::None,
    );
    poller.poll().await.unwrap();
    let before = t.slack.received_requests().await.unwrap().len();
    assert!(
        poller
            .ask_for_summary(OffsetDateTime::now_utc() + Duration::days(1))
            .await
            .unwrap()
    );
    let posts = t.slack.received_requests().await.unwrap();
    assert_eq!(posts.len(), before + 1, "one summary");
    let summary = serde_json::from_slice::<serde_json::Value>(&posts[before].body).unwrap();
    record_received("slack", "summary-with-workloads", &t.slack).await;
    record_received("teams", "summary-with-workloads", &t.teams).await;
    let text = summary.to_string();
    for expected in [
        "Summary: 1 user and 2 workload identities at risk",
        "counted apart from users: 1 service principal and 1 agent",
        "Workload identities still at risk",
        "Build pipeline",
        "(service principal) — high",
        "(agent) — medium",
        "Hana High",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert!(!text.contains("Lab app"), "excluded: {text}");
}
