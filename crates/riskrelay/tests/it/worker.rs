//! The worker pipeline against the simulated tenant and fake chat servers.

use riskrelay::alert::{AlertKind, Change, Message};
use riskrelay::observation::Subject;
use riskrelay::risk::{DetectionTimingType, RiskDetail, RiskLevel, RiskState};
use riskrelay::store;
use riskrelay::verdict::Verdict;
use riskrelay_sim::testkit::{TestApp, hint, uid};
use riskrelay_sim::{DetectionSpec, SimUser};
use time::OffsetDateTime;
use wiremock::ResponseTemplate;

use riskrelay_sim::testkit::{SLACK_PATH, TEAMS_PATH, answer, record_received};

fn kinds(messages: &[Message]) -> Vec<AlertKind> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::User(a) => Some(a.change.kind()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_webhook_hint_becomes_one_new_risk_alert_per_sink_once() {
    let rig = TestApp::start().await;
    rig.ok_sinks().await;
    let id = rig.sim.add_user(
        SimUser::new(uid(1), "Adsync User 2", "adsync2")
            .synced()
            .with_job("Finance", "Clerk"),
    );
    rig.sim.detect(
        id,
        DetectionSpec::new(
            "userReportedSuspiciousActivity",
            "user",
            RiskLevel::High,
            DetectionTimingType::Offline,
        ),
    );
    let worker = rig.worker();

    let report = worker
        .process(&[hint(&rig, Subject::RiskyUser { user_id: id })])
        .await;
    assert!(
        report.results.iter().all(Result::is_ok),
        "{:?}",
        report.results
    );
    assert_eq!(kinds(&report.alerts), vec![AlertKind::NewRisk]);
    assert_eq!(rig.posts().await, (1, 1));
    let Message::User(a) = &report.alerts[0] else {
        panic!()
    };
    assert_eq!(a.detections.len(), 1);
    assert!(
        matches!(a.verdict, Some(Verdict::Unknown { .. })),
        "no posture snapshot yet: {:?}",
        a.verdict
    );
    assert_eq!(
        a.context.found().unwrap().department.as_deref(),
        Some("Finance")
    );

    // The same hint again (a Graph retry) and a poll of the same state post nothing.
    let again = worker
        .process(&[hint(&rig, Subject::RiskyUser { user_id: id })])
        .await;
    assert!(again.alerts.is_empty());
    assert_eq!(rig.posts().await, (1, 1));
    record_received("slack", "worker-new-risk", &rig.slack).await;
    record_received("teams", "worker-new-risk", &rig.teams).await;
}

#[tokio::test]
async fn a_directory_hint_for_a_user_not_at_risk_costs_no_identity_protection_request() {
    let rig = TestApp::start().await;
    let id = rig.sim.add_user(SimUser::new(uid(2), "Someone", "someone"));
    rig.sim.clear_requests();
    let report = rig
        .worker()
        .process(&[hint(&rig, Subject::User { user_id: id })])
        .await;
    assert!(report.results.iter().all(Result::is_ok));
    assert!(
        rig.sim
            .requests()
            .iter()
            .all(|r| !r.is_identity_protection()),
        "{:?}",
        rig.sim.requests()
    );
}

#[tokio::test]
async fn on_premises_password_change_is_reported_as_such_with_the_posture_verdict() {
    let rig = TestApp::start().await;
    rig.ok_sinks().await;
    let id = rig
        .sim
        .add_user(SimUser::new(uid(3), "Adsync User 2", "adsync2").synced());
    rig.sim.detect(
        id,
        DetectionSpec::new(
            "userReportedSuspiciousActivity",
            "user",
            RiskLevel::High,
            DetectionTimingType::Offline,
        ),
    );
    rig.save_posture(OffsetDateTime::now_utc()).await;
    let worker = rig.worker();
    let first = worker
        .process(&[hint(&rig, Subject::RiskyUser { user_id: id })])
        .await;
    let Message::User(a) = &first.alerts[0] else {
        panic!()
    };
    assert!(
        matches!(a.verdict, Some(Verdict::OnPremises { .. })),
        "{:?}",
        a.verdict
    );

    // Ctrl+Alt+Del on-premises; password hash sync carries it; Graph reports the remediation, and
    // the password change fires a users/{id} notification.
    rig.sim.close_detections(
        id,
        RiskState::Remediated,
        RiskDetail::UserChangedPasswordOnPremises,
    );
    rig.sim.set_risk(
        id,
        RiskLevel::None,
        RiskState::Remediated,
        RiskDetail::UserChangedPasswordOnPremises,
    );
    let second = worker
        .process(&[hint(&rig, Subject::User { user_id: id })])
        .await;
    assert_eq!(kinds(&second.alerts), vec![AlertKind::Remediated]);
    let Message::User(a) = &second.alerts[0] else {
        panic!()
    };
    assert_eq!(
        a.change,
        Change::Remediated {
            how: RiskDetail::UserChangedPasswordOnPremises
        }
    );
    let text = riskrelay::render::console::text(&riskrelay::render::view(&second.alerts[0]));
    assert!(
        text.contains("the password was changed on-premises and synced to Entra"),
        "{text}"
    );
    record_received("slack", "worker-remediated", &rig.slack).await;
    record_received("teams", "worker-remediated", &rig.teams).await;
}

#[tokio::test]
async fn a_failed_sink_fails_the_item_keeps_the_old_state_and_the_retry_reaches_only_that_sink() {
    let rig = TestApp::start().await;
    answer(
        &rig.slack,
        SLACK_PATH,
        ResponseTemplate::new(200).set_body_string("ok"),
        None,
        None,
    )
    .await;
    answer(
        &rig.teams,
        TEAMS_PATH,
        ResponseTemplate::new(500),
        Some(3),
        None,
    )
    .await;
    answer(
        &rig.teams,
        TEAMS_PATH,
        ResponseTemplate::new(202),
        None,
        None,
    )
    .await;
    let id = rig.sim.add_user(SimUser::new(uid(4), "Pat", "pat"));
    rig.sim
        .set_risk(id, RiskLevel::Medium, RiskState::AtRisk, RiskDetail::None);
    let worker = rig.worker();
    let item = hint(&rig, Subject::RiskyUser { user_id: id });

    let first = worker.process(std::slice::from_ref(&item)).await;
    assert!(first.results[0].is_err());
    let state = store::load::<riskrelay::reconcile::UserState>(
        rig.store.as_ref(),
        rig.sim.tenant_id(),
        &store::keys::user(id),
    )
    .await
    .unwrap();
    assert!(
        state.is_none(),
        "state must not be recorded before every sink has the alert"
    );

    let retry = worker.process(&[item]).await;
    assert!(retry.results[0].is_ok(), "{:?}", retry.results);
    assert_eq!(
        rig.posts().await,
        (1, 4),
        "Slack once; Teams three failures then one success"
    );
    assert_eq!(retry.delivery.duplicates, 1);
}

#[tokio::test]
async fn a_burst_in_one_batch_becomes_a_digest() {
    let rig = TestApp::start().await;
    rig.ok_sinks().await;
    let mut items = Vec::new();
    for n in 0..12 {
        let id = rig.sim.add_user(SimUser::new(
            uid(100 + n),
            &format!("Spray Victim {n}"),
            &format!("victim{n}"),
        ));
        rig.sim.detect(
            id,
            DetectionSpec::new(
                "passwordSpray",
                "signin",
                RiskLevel::Medium,
                DetectionTimingType::Offline,
            ),
        );
        items.push(riskrelay_sim::testkit::polled(&rig.sim, id, "c1"));
    }
    rig.sim.clear_requests();
    let report = rig.worker().process(&items).await;
    assert!(report.results.iter().all(Result::is_ok));
    assert_eq!(report.delivery.digests, 2, "one digest per sink");
    assert_eq!(rig.posts().await, (1, 1));
    assert!(
        rig.sim
            .requests()
            .iter()
            .all(|r| !r.is_identity_protection()),
        "the poller attached the data"
    );
    record_received("slack", "worker-digest", &rig.slack).await;
    record_received("teams", "worker-digest", &rig.teams).await;
}

#[tokio::test]
async fn a_legacy_ipc_alert_names_the_users_to_read() {
    let rig = TestApp::start().await;
    rig.ok_sinks().await;
    let id = rig
        .sim
        .add_user(SimUser::new(uid(7), "Alert User", "alertuser"));
    rig.sim.detect(
        id,
        DetectionSpec::new(
            "anonymizedIPAddress",
            "signin",
            RiskLevel::Medium,
            DetectionTimingType::Realtime,
        ),
    );
    rig.sim
        .add_security_alert("2517343765581040000_-1234", vec![id]);
    let alert_id = riskrelay::ids::SecurityAlertId::parse("2517343765581040000_-1234").unwrap();
    let report = rig
        .worker()
        .process(&[hint(&rig, Subject::SecurityAlert { alert_id })])
        .await;
    assert!(report.results.iter().all(Result::is_ok));
    assert_eq!(kinds(&report.alerts), vec![AlertKind::NewRisk]);

    // An alert the retired legacy API no longer serves is acknowledged, not retried forever.
    let gone = riskrelay::ids::SecurityAlertId::parse("gone").unwrap();
    let report = rig
        .worker()
        .process(&[hint(&rig, Subject::SecurityAlert { alert_id: gone })])
        .await;
    assert!(report.results.iter().all(Result::is_ok) && report.alerts.is_empty());
}

#[tokio::test]
async fn a_stale_posture_snapshot_makes_the_verdict_unknown_not_wrong() {
    let rig = TestApp::start().await;
    rig.ok_sinks().await;
    let old = OffsetDateTime::now_utc() - time::Duration::hours(5);
    rig.save_posture(old).await;
    let id = rig.high_risk_user(8, "Stale", "stale");
    let report = rig
        .worker()
        .process(&[hint(&rig, Subject::RiskyUser { user_id: id })])
        .await;
    let Message::User(a) = &report.alerts[0] else {
        panic!()
    };
    let Some(Verdict::Unknown { because }) = &a.verdict else {
        panic!("{:?}", a.verdict)
    };
    assert!(
        because.iter().any(|b| b.contains("minutes old")),
        "{because:?}"
    );
}
