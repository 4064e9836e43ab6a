//! Posture checks and the drift guard against the simulated tenant.

use std::time::Duration;

use riskrelay::alert::Message;
use riskrelay::checks::report::{self, CheckStatus};
use riskrelay::checks::{self, PostureConfig, PostureRun};
use riskrelay::drift::DriftMode;
use riskrelay::posture::{CaPolicy, Known, Organization, PasswordSync};
use riskrelay::store::Store;
use riskrelay_sim::Fault;
use serde_json::json;
use time::OffsetDateTime;

fn config(mode: DriftMode) -> PostureConfig {
    PostureConfig {
        drift_mode: mode,
        password_sync_stale_after: Duration::from_secs(3 * 3600),
    }
}

fn covering_policy(state: &str, controls: &[&str]) -> CaPolicy {
    riskrelay_sim::scenario::user_risk_policy(
        "High user risk: require remediation",
        state,
        &["high"],
        controls,
    )
}

use riskrelay_sim::testkit::TestApp;

/// The test application with a covering user-risk policy in the simulated tenant.
async fn rig() -> TestApp {
    let rig = TestApp::start().await;
    rig.sim.set_ca_policies(vec![covering_policy(
        "enabled",
        &["mfa", "riskRemediation"],
    )]);
    rig
}

/// One scheduled check: run, hand the messages over, commit.
async fn check(rig: &TestApp, mode: DriftMode) -> PostureRun {
    let run = checks::run(
        &rig.graph(),
        rig.store.as_ref() as &dyn Store,
        rig.sim.tenant_id(),
        &config(mode),
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    run.commit(rig.store.as_ref()).await.unwrap();
    run
}

fn patches(rig: &TestApp) -> Vec<riskrelay_sim::Recorded> {
    rig.sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect()
}

fn titles(run: &PostureRun) -> Vec<String> {
    run.messages
        .iter()
        .map(|m| match m {
            Message::Posture(p) => p.title.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn status(run: &PostureRun, id: &str) -> CheckStatus {
    run.report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap()
        .status
}

#[tokio::test]
async fn all_well_exits_zero_and_says_nothing() {
    let rig = rig().await;
    let run = check(&rig, DriftMode::Report).await;
    assert_eq!(run.report.exit_code(), 0, "{:#?}", run.report);
    assert!(run.messages.is_empty());
    assert_eq!(run.snapshot.setting, Known::Known { value: true });
    assert!(matches!(
        run.snapshot.password_sync,
        Known::Known {
            value: PasswordSync::Fresh { .. }
        }
    ));
    let text = report::human(&run.report, false);
    assert!(text.contains("All well. Exit status 0."), "{text}");
}

#[tokio::test]
async fn report_mode_alerts_once_per_episode_and_says_back_to_normal_once() {
    let rig = rig().await;
    rig.sim.set_setting(false);
    let first = check(&rig, DriftMode::Report).await;
    assert_eq!(
        titles(&first),
        vec!["On-premises password change no longer resets user risk"]
    );
    assert_eq!(first.report.exit_code(), 1);
    for _ in 0..3 {
        assert!(
            check(&rig, DriftMode::Report).await.messages.is_empty(),
            "one alert per episode, not per check"
        );
    }
    rig.sim.set_setting(true);
    assert_eq!(
        titles(&check(&rig, DriftMode::Report).await),
        vec!["On-premises password change resets user risk again"]
    );
    assert!(check(&rig, DriftMode::Report).await.messages.is_empty());
    assert!(patches(&rig).is_empty(), "report mode never writes");
}

#[tokio::test]
async fn enforce_mode_patches_exactly_once_with_the_one_member_and_reads_back() {
    let rig = rig().await;
    rig.sim.set_setting(false);
    rig.sim
        .set_policy_member("unifiedRiskSignals", json!({"enabledFor": ["all"]}));
    rig.sim.clear_requests();
    let run = check(&rig, DriftMode::Enforce).await;
    let patched = patches(&rig);
    assert_eq!(patched.len(), 1);
    assert_eq!(
        serde_json::to_string(patched[0].body.as_ref().unwrap()).unwrap(),
        r#"{"isUserRiskClearedOnPasswordReset":true}"#
    );
    let policy_calls: Vec<String> = rig
        .sim
        .requests()
        .iter()
        .filter(|r| r.path == "/beta/identityProtection/policy")
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(
        policy_calls,
        vec!["GET", "PATCH", "GET"],
        "read, correct, read back"
    );
    assert_eq!(
        titles(&run),
        vec!["riskrelay turned on-premises password reset back on"]
    );
    let Message::Posture(p) = &run.messages[0] else {
        panic!()
    };
    assert!(p.detail.contains("was found off at") && p.resolved, "{p:?}");
    assert_eq!(run.report.exit_code(), 0);
    assert_eq!(run.snapshot.setting, Known::Known { value: true });
    assert_eq!(rig.sim.setting(), Some(true));
    assert_eq!(
        rig.sim.policy()["unifiedRiskSignals"],
        json!({"enabledFor": ["all"]}),
        "other members untouched"
    );
    assert!(check(&rig, DriftMode::Enforce).await.messages.is_empty());
    assert_eq!(patches(&rig).len(), 1);
}

#[tokio::test]
async fn a_read_back_that_still_says_off_is_reported_and_not_repeated() {
    let rig = rig().await;
    rig.sim.set_setting(false);
    // Graph accepts the PATCH but nothing changes (something else keeps it off).
    rig.sim
        .fail(Fault::status("/beta/identityProtection/policy", 204, 1).on("PATCH"));
    let run = check(&rig, DriftMode::Enforce).await;
    assert_eq!(
        titles(&run),
        vec!["Could not keep on-premises password reset on"]
    );
    assert_eq!(run.report.exit_code(), 1);
    let again = check(&rig, DriftMode::Enforce).await;
    assert!(again.messages.is_empty());
    assert_eq!(patches(&rig).len(), 1, "one PATCH per episode");
}

#[tokio::test]
async fn a_403_on_the_patch_is_said_once_and_falls_back_to_reporting() {
    let rig = rig().await;
    rig.sim.set_setting(false);
    rig.sim
        .fail(Fault::status("/beta/identityProtection/policy", 403, 1).on("PATCH"));
    let run = check(&rig, DriftMode::Enforce).await;
    assert_eq!(
        titles(&run),
        vec!["Cannot enforce: the app needs Policy.ReadWrite.IdentityProtection"]
    );
    // The report says why itself (`check --enforce` shows no alert), on this run and later ones.
    let said = |run: &riskrelay::checks::PostureRun| {
        run.report.checks[0].action.clone().unwrap_or_default()
    };
    assert!(
        said(&run).contains("refused riskrelay's change (403)")
            && said(&run).contains("Policy.ReadWrite.IdentityProtection"),
        "{}",
        said(&run)
    );
    assert!(!report::human(&run.report, false).contains("see the alert"));
    for _ in 0..2 {
        let again = check(&rig, DriftMode::Enforce).await;
        assert!(again.messages.is_empty());
        assert!(said(&again).contains("Policy.ReadWrite.IdentityProtection"));
    }
    assert_eq!(patches(&rig).len(), 1);
    rig.sim.set_setting(true);
    assert_eq!(
        titles(&check(&rig, DriftMode::Enforce).await),
        vec!["On-premises password change resets user risk again"]
    );
}

#[tokio::test]
async fn a_404_on_the_read_means_unavailable_said_once() {
    let rig = rig().await;
    rig.sim.set_policy_available(false);
    let run = check(&rig, DriftMode::Enforce).await;
    assert_eq!(
        titles(&run),
        vec!["The on-premises reset setting cannot be checked here"]
    );
    assert_eq!(status(&run, "onPremisesResetSetting"), CheckStatus::Finding);
    assert!(matches!(run.snapshot.setting, Known::Unknown { .. }));
    assert!(check(&rig, DriftMode::Enforce).await.messages.is_empty());
    assert!(patches(&rig).is_empty());
}

#[tokio::test]
async fn a_missing_read_permission_is_a_check_that_could_not_run() {
    let rig = rig().await;
    rig.sim
        .fail(Fault::status("/beta/identityProtection/policy", 403, 1).on("GET"));
    let run = check(&rig, DriftMode::Report).await;
    assert_eq!(status(&run, "onPremisesResetSetting"), CheckStatus::Error);
    assert_eq!(run.report.exit_code(), 2);
    assert!(
        run.report.checks[0]
            .summary
            .contains("Policy.Read.IdentityProtection")
    );
}

#[tokio::test]
async fn a_restart_or_second_container_does_not_repeat_the_alert_or_the_patch() {
    let rig = rig().await;
    rig.sim.set_setting(false);
    rig.sim
        .fail(Fault::status("/beta/identityProtection/policy", 403, 1).on("PATCH"));
    let graph_a = crate::graph::client(&rig.sim.graph_config());
    let graph_b = crate::graph::client(&rig.sim.graph_config());
    let store: &dyn Store = rig.store.as_ref();
    let now = OffsetDateTime::now_utc();
    let a = checks::run(
        &graph_a,
        store,
        rig.sim.tenant_id(),
        &config(DriftMode::Enforce),
        now,
    )
    .await
    .unwrap();
    a.commit(store).await.unwrap();
    // A second container (its own Graph client, the same store) checks a minute later.
    let b = checks::run(
        &graph_b,
        store,
        rig.sim.tenant_id(),
        &config(DriftMode::Enforce),
        now + time::Duration::minutes(1),
    )
    .await
    .unwrap();
    b.commit(store).await.unwrap();
    assert_eq!(a.messages.len() + b.messages.len(), 1);
    assert_eq!(patches(&rig).len(), 1);
}

#[tokio::test]
async fn password_sync_fresh_stale_and_cloud_only() {
    let rig = rig().await;
    let now = OffsetDateTime::now_utc();
    let org = |enabled: Option<bool>, last: Option<OffsetDateTime>| Organization {
        id: None,
        on_premises_sync_enabled: enabled,
        on_premises_last_sync_date_time: last,
        on_premises_last_password_sync_date_time: last,
    };
    rig.sim
        .set_organization(org(Some(true), Some(now - time::Duration::minutes(5))));
    assert_eq!(
        status(&check(&rig, DriftMode::Report).await, "passwordHashSync"),
        CheckStatus::Ok
    );

    rig.sim
        .set_organization(org(Some(true), Some(now - time::Duration::hours(30))));
    let stale = check(&rig, DriftMode::Report).await;
    assert_eq!(status(&stale, "passwordHashSync"), CheckStatus::Finding);
    assert!(
        stale.report.checks[1]
            .summary
            .contains("No password sync for 30 hours"),
        "{:?}",
        stale.report.checks[1]
    );
    assert_eq!(titles(&stale), vec!["Password hash sync"]);
    assert!(
        check(&rig, DriftMode::Report).await.messages.is_empty(),
        "said once"
    );

    rig.sim.set_organization(org(None, None));
    let cloud = check(&rig, DriftMode::Report).await;
    assert_eq!(
        status(&cloud, "passwordHashSync"),
        CheckStatus::NotApplicable
    );
    assert!(cloud.report.checks[1].summary.contains("cloud-only"));
    assert_eq!(
        cloud.snapshot.password_sync,
        Known::Known {
            value: PasswordSync::CloudOnly
        }
    );
    assert_eq!(titles(&cloud), vec!["Password hash sync: back to normal"]);
    assert_eq!(cloud.report.exit_code(), 0);
}

#[tokio::test]
async fn user_risk_policies_covering_not_covering_and_report_only() {
    let rig = rig().await;
    for (policies, want, words) in [
        (
            vec![covering_policy("enabled", &["mfa", "riskRemediation"])],
            CheckStatus::Ok,
            "requires risk remediation",
        ),
        (
            vec![covering_policy("enabled", &["block"])],
            CheckStatus::Ok,
            "requires blocking access",
        ),
        (
            vec![covering_policy(
                "enabledForReportingButNotEnforced",
                &["mfa", "passwordChange"],
            )],
            CheckStatus::Finding,
            "report-only",
        ),
        (
            vec![covering_policy("enabled", &["mfa"])],
            CheckStatus::Finding,
            "No enabled Conditional Access policy",
        ),
        (
            vec![{
                let mut p = covering_policy("enabled", &["mfa", "passwordChange"]);
                if let Some(c) = p.conditions.as_mut() {
                    c.user_risk_levels = vec!["medium".into()];
                }
                p
            }],
            CheckStatus::Finding,
            "No enabled Conditional Access policy",
        ),
        (
            vec![],
            CheckStatus::Finding,
            "No enabled Conditional Access policy",
        ),
    ] {
        rig.sim.set_ca_policies(policies);
        let run = check(&rig, DriftMode::Report).await;
        let c = &run.report.checks[2];
        assert_eq!(c.status, want, "{c:?}");
        assert!(c.summary.contains(words), "{c:?}");
    }
    // riskRemediation is read as itself because the CA read sends the Prefer header.
    assert!(
        rig.sim
            .requests()
            .iter()
            .filter(|r| r.path.contains("conditionalAccess"))
            .all(|r| r.prefer_unknown_enums)
    );
}

#[tokio::test]
async fn the_human_report_and_the_json_are_stable() {
    let rig = rig().await;
    rig.sim.set_setting(false);
    rig.sim.set_ca_policies(vec![covering_policy(
        "enabledForReportingButNotEnforced",
        &["mfa", "passwordChange"],
    )]);
    let now = time::macros::datetime!(2026-11-25 10:00 UTC);
    rig.sim.set_organization(Organization {
        id: None,
        on_premises_sync_enabled: Some(true),
        on_premises_last_sync_date_time: Some(now - time::Duration::minutes(20)),
        on_premises_last_password_sync_date_time: Some(now - time::Duration::minutes(3)),
    });
    let graph = crate::graph::client(&rig.sim.graph_config());
    let run = checks::run(
        &graph,
        rig.store.as_ref(),
        rig.sim.tenant_id(),
        &config(DriftMode::Report),
        now,
    )
    .await
    .unwrap();
    insta::assert_snapshot!("check-human", report::human(&run.report, false));
    insta::assert_json_snapshot!("check-json", report::json(&run.report));
    let colored = report::human(&run.report, true);
    assert!(colored.contains("\u{1b}["), "colour on a terminal");
    for m in &run.messages {
        let view = riskrelay::render::view(m);
        riskrelay_sim::testkit::record_payload(
            "slack",
            &format!("posture-{}", m.key()),
            &riskrelay::render::slack::payload(&view),
        );
        riskrelay_sim::testkit::record_payload(
            "teams",
            &format!("posture-{}", m.key()),
            &riskrelay::render::teams::payload(&view),
        );
    }
}

/// The poll cycle's record that it read risky service principals, or was refused.
async fn watched(rig: &TestApp, refusal: Option<riskrelay::workload::Unavailable>) {
    use riskrelay::workload::{WorkloadKind, WorkloadWatch};
    let tenant = rig.sim.tenant_id();
    let now = OffsetDateTime::now_utc();
    let mut w = WorkloadWatch::default();
    w.read(tenant, WorkloadKind::ServicePrincipal, now);
    if let Some(why) = refusal {
        w.refused(tenant, WorkloadKind::Agent, why, now);
    }
    let key = riskrelay::store::keys::WORKLOAD_RISK;
    let version = riskrelay::store::load::<WorkloadWatch>(rig.store.as_ref(), tenant, key)
        .await
        .unwrap()
        .map(|v| v.version);
    assert!(
        riskrelay::store::save(rig.store.as_ref(), tenant, key, &w, version)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_policy_blocking_high_risk_workload_identities_is_checked_where_they_are_read() {
    let rig = rig().await;
    // No poll cycle has read risky service principals: neither check applies, nothing is said.
    let run = check(&rig, DriftMode::Report).await;
    assert_eq!(
        status(&run, "workloadRiskPolicy"),
        CheckStatus::NotApplicable
    );
    assert_eq!(status(&run, "workloadRisk"), CheckStatus::NotApplicable);
    assert_eq!(run.report.exit_code(), 0, "{:#?}", run.report);
    assert!(run.messages.is_empty());

    // They are read (the tenant has Workload ID Premium) and no policy blocks them: a finding,
    // said once.
    watched(&rig, None).await;
    let run = check(&rig, DriftMode::Report).await;
    assert_eq!(status(&run, "workloadRisk"), CheckStatus::Ok);
    assert_eq!(status(&run, "workloadRiskPolicy"), CheckStatus::Finding);
    assert_eq!(run.report.exit_code(), 1);
    assert_eq!(
        titles(&run),
        ["Workload identity risk Conditional Access policy"]
    );
    match &run.messages[0] {
        Message::Posture(p) => {
            assert_eq!(p.kind, riskrelay::alert::AlertKind::NoWorkloadRiskPolicy);
            assert!(p.detail.contains("keeps getting tokens"), "{}", p.detail);
        }
        other => panic!("{other:?}"),
    }
    assert!(check(&rig, DriftMode::Report).await.messages.is_empty());

    // A report-only one is still a finding that says so; an enabled one ends it, once.
    let user_policy = covering_policy("enabled", &["mfa", "riskRemediation"]);
    rig.sim.set_ca_policies(vec![
        user_policy.clone(),
        riskrelay_sim::scenario::workload_risk_policy(
            "Block risky workload identities",
            "enabledForReportingButNotEnforced",
        ),
    ]);
    let run = check(&rig, DriftMode::Report).await;
    let summary = &run
        .report
        .checks
        .iter()
        .find(|c| c.id == "workloadRiskPolicy")
        .unwrap()
        .summary;
    assert!(summary.contains("is not on"), "{summary}");
    rig.sim.set_ca_policies(vec![
        user_policy,
        riskrelay_sim::scenario::workload_risk_policy("Block risky workload identities", "enabled"),
    ]);
    let run = check(&rig, DriftMode::Report).await;
    assert_eq!(status(&run, "workloadRiskPolicy"), CheckStatus::Ok);
    assert_eq!(
        titles(&run),
        ["Workload identity risk Conditional Access policy: back to normal"]
    );
    assert_eq!(run.report.exit_code(), 0, "{:#?}", run.report);

    // Agents refused for a missing permission: the reads check says which, and asks for it.
    watched(
        &rig,
        Some(riskrelay::workload::Unavailable::Permission {
            permission: "IdentityRiskyAgent.Read.All".into(),
        }),
    )
    .await;
    let run = check(&rig, DriftMode::Report).await;
    let reads = run
        .report
        .checks
        .iter()
        .find(|c| c.id == "workloadRisk")
        .unwrap();
    assert_eq!(reads.status, CheckStatus::Finding);
    assert!(
        reads
            .summary
            .contains("Service principals: read; agents: cannot be read")
            && reads.summary.contains("IdentityRiskyAgent.Read.All"),
        "{}",
        reads.summary
    );
    let text = report::human(&run.report, false);
    assert!(text.contains("IdentityRiskyAgent.Read.All"), "{text}");
}
