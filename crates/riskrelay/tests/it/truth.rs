//! What riskrelay posts follows Entra's documented rules: one simulated tenant per case, the real
//! pipeline (posture check, poll or webhook hint, worker, rendering), and the words a person reads.

use std::sync::Arc;

use riskrelay::app::{Adapters, Parts, Polls, ServiceParts};
use riskrelay::checks::report::CheckStatus;
use riskrelay::drift::DriftMode;
use riskrelay::ids::UserId;
use riskrelay::observation::Subject;
use riskrelay::posture::{CaUsers, Organization};
use riskrelay::risk::{RiskDetail, RiskLevel, RiskState};
use riskrelay::store::Store;
use riskrelay_sim::scenario::user_risk_policy;
use riskrelay_sim::{DetectionSpec, Fault, SimUser};
use time::OffsetDateTime;

use riskrelay_sim::testkit::{RecordingSink, TestApp, record_payload};
use riskrelay_sim::testkit::{hint, uid};

/// A tenant, the app built as `riskrelay run` builds it, and what it posted.
struct Case {
    t: TestApp,
    app: ServiceParts,
    sink: Arc<RecordingSink>,
}

impl Case {
    /// A hybrid tenant (password hash sync running) with the setting `setting` and one enabled
    /// user-risk policy for high risk, scoped by `users`.
    async fn new(setting: bool, users: Option<CaUsers>) -> Self {
        let t = TestApp::start().await;
        t.sim.set_setting(setting);
        let mut policy = user_risk_policy(
            "Require risk remediation for high user risk",
            "enabled",
            &["high"],
            &["mfa", "riskRemediation"],
        );
        if let (Some(users), Some(c)) = (users, policy.conditions.as_mut()) {
            c.users = Some(users);
        }
        t.sim.set_ca_policies(vec![policy]);
        Self::build(t).await
    }

    /// [`Case::new`] with the setting on and a policy for all users, its posture checked.
    async fn ready() -> Self {
        let case = Self::new(true, None).await;
        case.posture().await;
        case
    }

    async fn build(t: TestApp) -> Self {
        t.ok_sinks().await;
        let sink = Arc::new(RecordingSink::default());
        let store: Arc<dyn Store> = t.store.clone();
        let mut adapters = Adapters::new(store);
        adapters.built_sinks.push(sink.clone());
        let app = ServiceParts::build(&t.settings, adapters).unwrap();
        Self { t, app, sink }
    }

    /// The posture check that feeds the verdict.
    async fn posture(&self) -> riskrelay::checks::PostureRun {
        self.app.posture_job().await.unwrap()
    }

    /// A user at high risk from one offline detection, announced by a webhook hint; returns what
    /// riskrelay said about them.
    async fn high_risk(&self, user: SimUser) -> String {
        let id = self.t.high_risk(user);
        self.said_after_hint(id).await
    }

    /// A user at `level`, at risk with no detection.
    fn at_risk(&self, user: SimUser, level: RiskLevel) -> UserId {
        let id = self.t.sim.add_user(user);
        self.t
            .sim
            .set_risk(id, level, RiskState::AtRisk, RiskDetail::None);
        id
    }

    async fn said_after_hint(&self, id: UserId) -> String {
        let before = self.sink.user_texts().len();
        let report = self
            .app
            .worker
            .process(&[hint(&self.t, Subject::RiskyUser { user_id: id })])
            .await;
        assert!(report.results.iter().all(Result::is_ok), "{report:?}");
        let texts = self.sink.user_texts();
        assert_eq!(texts.len(), before + 1, "{texts:#?}");
        // Every new shape of message also goes through the vendors' payload validators.
        if let Some(m) = self.sink.messages().last() {
            let name = format!(
                "truth-{}",
                riskrelay::alert::keys::fingerprint([m.routing.key.as_str()])
            );
            record_payload("slack", &name, &riskrelay::render::slack::payload(&m.view));
            record_payload("teams", &name, &riskrelay::render::teams::payload(&m.view));
        }
        texts[before].clone()
    }
}

fn cloud_only(n: u128, name: &str) -> SimUser {
    SimUser::new(uid(n), name, &name.to_ascii_lowercase().replace(' ', "."))
}

#[tokio::test]
async fn a_policy_scoped_to_someone_else_does_not_make_this_user_self_remediate() {
    let other = uid(900).to_string();
    let case = Case::new(
        true,
        Some(CaUsers {
            include_users: vec![other],
            ..CaUsers::default()
        }),
    )
    .await;
    let run = case.posture().await;
    let policy = run
        .report
        .checks
        .iter()
        .find(|c| c.id == "userRiskPolicy")
        .unwrap();
    assert_eq!(policy.status, CheckStatus::Finding);
    assert!(
        policy.summary.contains("it applies to only 1 user"),
        "{}",
        policy.summary
    );
    let said = case.high_risk(cloud_only(901, "Scoped Out")).await;
    assert!(said.contains("Needs an administrator"), "{said}");
    assert!(
        said.contains("no enabled Conditional Access policy that applies to this user"),
        "{said}"
    );
}

#[tokio::test]
async fn a_policy_scoped_to_a_group_applies_to_its_members_and_is_unknown_when_unreadable() {
    let group = "0f0f0f0f-0000-4000-8000-00000000000a";
    let case = Case::new(
        true,
        Some(CaUsers {
            include_groups: vec![group.into()],
            ..CaUsers::default()
        }),
    )
    .await;
    case.posture().await;
    let said = case
        .high_risk(cloud_only(910, "Group Member").in_group(group))
        .await;
    assert!(said.contains("Can self-remediate in the cloud"), "{said}");
    let said = case.high_risk(cloud_only(911, "Not Member")).await;
    assert!(said.contains("Needs an administrator"), "{said}");

    case.t
        .sim
        .fail(Fault::status("transitiveMemberOf", 403, 10));
    let said = case
        .high_risk(cloud_only(912, "Unreadable").in_group(group))
        .await;
    assert!(said.contains("Self-remediation unknown"), "{said}");
    assert!(
        said.contains("group and role memberships could not be read"),
        "{said}"
    );
}

#[tokio::test]
async fn mfa_without_sspr_is_enough_in_the_cloud_and_a_never_synced_user_reads_synced_no() {
    let case = Case::ready().await;
    let said = case
        .high_risk(cloud_only(920, "Mfa Only").registered(true, false))
        .await;
    assert!(said.contains("Can self-remediate in the cloud"), "{said}");
    assert!(!said.contains("if password writeback"), "{said}");
    assert!(said.contains("Synced from on-premises: no"), "{said}");
    assert!(!said.contains("not reported"), "{said}");
}

#[tokio::test]
async fn a_synced_user_with_the_on_premises_path_closed_depends_on_writeback() {
    let case = Case::new(false, None).await;
    case.posture().await;
    let said = case
        .high_risk(cloud_only(930, "Hybrid User").synced())
        .await;
    assert!(
        said.contains("Can self-remediate in the cloud, if password writeback is enabled"),
        "{said}"
    );
}

#[tokio::test]
async fn a_confirmed_compromise_needs_an_administrator_with_the_documented_steps() {
    let case = Case::ready().await;
    let id = case.t.sim.add_user(cloud_only(940, "Confirmed").synced());
    case.t.sim.set_risk(
        id,
        RiskLevel::High,
        RiskState::ConfirmedCompromised,
        RiskDetail::AdminConfirmedUserCompromised,
    );
    let said = case.said_after_hint(id).await;
    assert!(said.contains("Needs an administrator"), "{said}");
    for step in [
        "reset the password",
        "revoke the user's sessions",
        "block sign-in",
    ] {
        assert!(said.contains(step), "{step}: {said}");
    }
    assert!(!said.contains("Can self-remediate"), "{said}");
}

#[tokio::test]
async fn a_cloud_only_tenant_has_no_setting_to_guard() {
    let mut t = TestApp::start().await;
    t.sim.set_setting(false);
    t.sim.set_organization(Organization {
        id: Some("org".into()),
        on_premises_sync_enabled: None,
        on_premises_last_sync_date_time: None,
        on_premises_last_password_sync_date_time: None,
    });
    t.sim.set_ca_policies(vec![user_risk_policy(
        "Require risk remediation for high user risk",
        "enabled",
        &["high"],
        &["mfa", "riskRemediation"],
    )]);
    t.settings.posture.drift_mode = DriftMode::Enforce;
    let case = Case::build(t).await;
    let run = case.posture().await;
    let setting = &run.report.checks[0];
    assert_eq!(setting.id, "onPremisesResetSetting");
    assert_eq!(setting.status, CheckStatus::NotApplicable, "{setting:?}");
    assert!(
        setting.summary.contains("never synced"),
        "{}",
        setting.summary
    );
    assert_eq!(run.report.exit_code(), 0, "{:?}", run.report);
    assert!(
        run.messages.is_empty(),
        "no drift alert: {:?}",
        run.messages
    );
    assert!(
        case.t.sim.requests().iter().all(|r| r.method != "PATCH"),
        "enforce did not PATCH"
    );
    assert_eq!(case.t.sim.setting(), Some(false));
}

#[tokio::test]
async fn a_hidden_level_is_said_to_be_withheld_not_compared() {
    let case = Case::ready().await;
    let id = case.at_risk(cloud_only(950, "Hidden Level"), RiskLevel::Hidden);
    let said = case.said_after_hint(id).await;
    assert!(said.contains("User at risk (level hidden)"), "{said}");
    assert!(said.contains("Graph withholds it from this app"), "{said}");
    assert!(!said.contains("raised to hidden"), "{said}");
    assert!(!said.contains("hidden-risk users"), "{said}");
    assert!(said.contains("Self-remediation unknown"), "{said}");
}

#[tokio::test]
async fn risk_that_ends_with_no_named_remediation_is_no_longer_at_risk() {
    let case = Case::ready().await;
    let id = case.at_risk(cloud_only(960, "Aged Out"), RiskLevel::Low);
    case.said_after_hint(id).await;
    case.t
        .sim
        .set_risk(id, RiskLevel::None, RiskState::None, RiskDetail::None);
    let said = case.said_after_hint(id).await;
    assert!(said.contains("User no longer at risk"), "{said}");
    assert!(said.contains("age out after six months"), "{said}");
    assert!(!said.contains("remediated"), "{said}");
}

#[tokio::test]
async fn a_secure_password_change_is_not_said_to_involve_mfa() {
    let case = Case::ready().await;
    let id = case.at_risk(cloud_only(970, "Changed Password"), RiskLevel::High);
    case.said_after_hint(id).await;
    case.t.sim.end_risk(
        id,
        RiskState::Remediated,
        RiskDetail::UserPerformedSecuredPasswordChange,
    );
    let said = case.said_after_hint(id).await;
    assert!(
        said.contains("how it ended: the user performed a secure password change\n"),
        "{said}"
    );
    assert!(!said.contains("after MFA"), "{said}");
}

#[tokio::test]
async fn a_deleted_user_is_said_to_be_gone_and_left_out_of_the_baseline() {
    let case = Case::ready().await;
    let gone = case.at_risk(cloud_only(980, "Deleted User"), RiskLevel::Medium);
    case.t.sim.set_user_flags(gone, true, false);
    let live = case.at_risk(cloud_only(981, "Live User"), RiskLevel::Medium);
    case.t.sim.set_user_flags(live, false, true);

    case.app.poller.poll().await.unwrap();
    let baseline = case
        .sink
        .messages()
        .into_iter()
        .find(|m| m.routing.kind == Some(riskrelay::alert::AlertKind::Baseline))
        .expect("a baseline summary");
    let text = riskrelay::render::console::text(&baseline.view);
    assert!(text.contains("1 users already at risk"), "{text}");
    assert!(
        text.contains("1 deleted account still listed with risk, not counted"),
        "{text}"
    );

    // A later change to the deleted user says it is gone, and who can act.
    case.t
        .sim
        .set_risk(gone, RiskLevel::High, RiskState::AtRisk, RiskDetail::None);
    case.t.sim.set_user_flags(gone, true, false);
    let said = case.said_after_hint(gone).await;
    assert!(said.contains("Account deleted"), "{said}");
    assert!(said.contains("only a Microsoft support case"), "{said}");

    // A user still being processed says so.
    case.t
        .sim
        .set_risk(live, RiskLevel::High, RiskState::AtRisk, RiskDetail::None);
    case.t.sim.set_user_flags(live, false, true);
    let said = case.said_after_hint(live).await;
    assert!(said.contains("still processing"), "{said}");
}

#[tokio::test]
async fn a_detection_that_surfaced_before_the_poll_window_is_still_listed() {
    let mut t = TestApp::start().await;
    t.settings.policy.late_detection_reads = 1;
    let case = Case::build(t).await;
    case.posture().await;
    case.app.poller.poll().await.unwrap(); // the baseline
    let two_days_ago = OffsetDateTime::now_utc() - time::Duration::hours(49);
    for (n, name) in [(990, "Late One"), (991, "Late Two")] {
        let id = case.t.sim.add_user(cloud_only(n, name));
        case.t
            .sim
            .add_detection(id, DetectionSpec::leaked_credentials().at(two_days_ago));
        case.t
            .sim
            .set_risk(id, RiskLevel::High, RiskState::AtRisk, RiskDetail::None);
    }
    case.app.poller.poll().await.unwrap();
    let texts = case.sink.user_texts();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    let listed = texts
        .iter()
        .filter(|t| t.contains("Leaked credentials"))
        .count();
    let pointed = texts
        .iter()
        .filter(|t| t.contains("detections older than the poll window"))
        .count();
    assert_eq!(
        (listed, pointed),
        (1, 1),
        "one read within the budget, one pointer: {texts:#?}"
    );
    let open_reads = case
        .t
        .sim
        .requests()
        .iter()
        .filter(|r| {
            r.query.as_deref().is_some_and(|q| {
                q.contains("userId") && q.contains("riskState") && q.contains("atRisk")
            })
        })
        .count();
    assert_eq!(open_reads, 1);
}

/// The reads of late detections are capped per poll cycle, not per page, and made after the
/// cycle's pages are handed on: with 25 such users over three pages and a cap of 3, exactly
/// three reads, every one after the last page of risky users; each user alerted once.
#[tokio::test]
async fn late_detection_reads_are_capped_per_cycle_and_made_after_its_pages() {
    let mut t = TestApp::start().await;
    t.settings.policy.late_detection_reads = 3;
    t.settings.alerts.digest_threshold = 1000;
    t.sim.set_max_page(10);
    let case = Case::build(t).await;
    case.posture().await;
    case.app.poller.poll().await.unwrap(); // the baseline
    let two_days_ago = OffsetDateTime::now_utc() - time::Duration::hours(49);
    for n in 0..25 {
        let id = case
            .t
            .sim
            .add_user(cloud_only(2000 + n, &format!("Late {n}")));
        case.t
            .sim
            .add_detection(id, DetectionSpec::leaked_credentials().at(two_days_ago));
        case.t
            .sim
            .set_risk(id, RiskLevel::High, RiskState::AtRisk, RiskDetail::None);
    }
    case.t.sim.clear_requests();
    case.app.poller.poll().await.unwrap();
    let texts = case.sink.user_texts();
    assert_eq!(texts.len(), 25, "each user alerted once: {texts:#?}");
    let listed = texts
        .iter()
        .filter(|t| t.contains("Leaked credentials"))
        .count();
    let pointed = texts
        .iter()
        .filter(|t| t.contains("detections older than the poll window"))
        .count();
    assert_eq!((listed, pointed), (3, 22), "{texts:#?}");
    let requests = case.t.sim.requests();
    let open_reads: Vec<_> = requests
        .iter()
        .filter(|r| {
            r.query.as_deref().is_some_and(|q| {
                q.contains("userId") && q.contains("riskState") && q.contains("atRisk")
            })
        })
        .collect();
    assert_eq!(open_reads.len(), 3);
    let last_page = requests
        .iter()
        .filter(|r| r.path.ends_with("/identityProtection/riskyUsers") && !r.inner)
        .map(|r| r.at)
        .max()
        .unwrap();
    assert!(
        open_reads.iter().all(|r| r.at > last_page),
        "the reads come after the cycle's last page"
    );
    // Nothing is left waiting, and a second cycle posts nothing more.
    case.app.poller.poll().await.unwrap();
    assert_eq!(case.sink.user_texts().len(), 25);
}

#[tokio::test]
async fn registration_details_wrapped_in_value_are_read() {
    let case = Case::ready().await;
    case.t.sim.wrap_registration_details(true);
    let said = case
        .high_risk(cloud_only(995, "Wrapped").registered(true, false))
        .await;
    assert!(said.contains("MFA registered: yes"), "{said}");
    assert!(said.contains("SSPR registered: no"), "{said}");
    assert!(said.contains("Can self-remediate in the cloud"), "{said}");
}

#[tokio::test]
async fn one_risky_user_is_read_without_query_options_which_graph_refuses() {
    let case = Case::ready().await;
    case.high_risk(cloud_only(996, "Plain Read")).await;
    let reads: Vec<_> = case
        .t
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/identityProtection/riskyUsers/"))
        .collect();
    assert!(!reads.is_empty());
    assert!(
        reads.iter().all(|r| r.query.is_none() && r.status == 200),
        "{reads:?}"
    );
    // The simulator refuses what Graph documents as unsupported, so the next such request fails
    // a test instead of a tenant.
    case.t.sim.accept_static_token("truth-test-token");
    let res = reqwest::Client::new()
        .get(format!(
            "{}v1.0/identityProtection/riskyUsers/{}?$select=id",
            case.t.sim.url(),
            uid(996)
        ))
        .bearer_auth("truth-test-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
}

/// Entra's "Require risk remediation" as Microsoft documents it, in the words posted: a
/// passwordless user's sessions are revoked (no password to change); the policy's authentication
/// strength is named, and one riskrelay cannot check is said to be unknown; guests are not
/// covered; and a user under it and a password-change policy is forced through both or blocked.
#[tokio::test]
async fn require_risk_remediation_is_explained_as_microsoft_documents_it() {
    use riskrelay_sim::scenario::with_strength;
    let rr = || {
        user_risk_policy(
            "Require risk remediation for high user risk",
            "enabled",
            &["high"],
            &["riskRemediation"],
        )
    };

    // Passwordless users: sessions revoked, sign in again.
    let case = Case::new(false, None).await;
    case.posture().await;
    let said = case
        .high_risk(cloud_only(40, "Pat Passkey").with_methods(&["passKeyDeviceBound"], true))
        .await;
    assert!(said.contains("Can self-remediate in the cloud"), "{said}");
    assert!(
        said.contains("sessions revoked and signs in again"),
        "{said}"
    );

    // A built-in strength is named and checked; a custom one cannot be.
    let t = TestApp::start().await;
    t.sim.set_setting(false);
    t.sim.set_ca_policies(vec![with_strength(
        rr(),
        "00000000-0000-0000-0000-000000000004",
        "Phishing-resistant MFA",
    )]);
    let case = Case::build(t).await;
    case.posture().await;
    let said = case
        .high_risk(
            cloud_only(41, "Adam Authenticator")
                .with_methods(&["microsoftAuthenticatorPush"], false),
        )
        .await;
    assert!(said.contains("Needs an administrator"), "{said}");
    assert!(
        said.contains("\"Phishing-resistant MFA\"")
            && said.contains("no phishing-resistant method"),
        "{said}"
    );
    assert!(!said.contains("Can self-remediate"), "{said}");
    let t = TestApp::start().await;
    t.sim.set_setting(false);
    t.sim.set_ca_policies(vec![with_strength(
        rr(),
        "6c2f0a11-0000-4000-8000-000000000001",
        "Contoso hardware keys",
    )]);
    let case = Case::build(t).await;
    case.posture().await;
    let said = case
        .high_risk(cloud_only(42, "Kim Keys").with_methods(&["fido2SecurityKey"], true))
        .await;
    assert!(said.contains("Self-remediation unknown"), "{said}");
    assert!(
        said.contains("custom authentication strength \"Contoso hardware keys\"")
            && said.contains("cannot check"),
        "{said}"
    );

    // Guests and external users: not covered by risk remediation.
    let t = TestApp::start().await;
    t.sim.set_setting(false);
    t.sim.set_ca_policies(vec![rr()]);
    let case = Case::build(t).await;
    case.posture().await;
    let said = case.high_risk(cloud_only(43, "Gale Guest").guest()).await;
    assert!(!said.contains("Can self-remediate"), "{said}");
    assert!(said.contains("guest and external users"), "{said}");

    // Under risk remediation and a password change at once: forced through both, or blocked.
    let t = TestApp::start().await;
    t.sim.set_setting(false);
    t.sim.set_ca_policies(vec![
        rr(),
        user_risk_policy(
            "Require password change for high user risk",
            "enabled",
            &["high"],
            &["mfa", "passwordChange"],
        ),
    ]);
    let case = Case::build(t).await;
    case.posture().await;
    let said = case.high_risk(cloud_only(44, "Bo Both")).await;
    assert!(!said.contains("Can self-remediate"), "{said}");
    assert!(
        said.contains("forced through all policies or blocked"),
        "{said}"
    );
}
