//! The test kit riskrelay's suites share (the application's and the command's): the test app,
//! recording fakes, fake chat servers, samples and the moto helpers. Behind the `testkit`
//! feature, which only dev-dependencies turn on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::{Arc, Mutex};

use crate::{SimConfig, Simulator};
use async_trait::async_trait;
use riskrelay::app::{Adapters, App, Role, Settings};
use riskrelay::config::{Env, EnvSecrets};
use riskrelay::graph::GraphClient;
use riskrelay::observation::WorkItem;
use riskrelay::posture::{Known, PasswordSync, PostureSnapshot};
use riskrelay::queue::{Queue, QueueError};
use riskrelay::risk::RiskLevel;
use riskrelay::sink::config::{SinkConfig, SinkKind};
use riskrelay::source::webhook::WebhookConfig;
use riskrelay::store::memory::MemoryStore;
use riskrelay::store::{self, Store};
use riskrelay::worker::Worker;
use time::OffsetDateTime;
use wiremock::{MockServer, ResponseTemplate};

pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT_STATE: &str = "riskrelay-test-client-state";
pub const CLIENT_STATE_PREVIOUS: &str = "riskrelay-old-client-state";
pub const SUBSCRIPTION: &str = "7f1a3c2e-5b4d-4e6f-8a9b-0c1d2e3f4a5b";
pub const USER_1: &str = "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b";
pub const USER_2: &str = "0b9e8d7c-6f5a-4b3c-9d2e-1f0a9b8c7d6e";

pub fn webhook_env() -> Env {
    Env::default()
        .with("RISKRELAY_TENANT_ID", TENANT)
        .with("RISKRELAY_CLIENT_STATE", CLIENT_STATE)
        .with("RISKRELAY_CLIENT_STATE_PREVIOUS", CLIENT_STATE_PREVIOUS)
}

pub fn webhook_config(env: &Env) -> WebhookConfig {
    WebhookConfig::load(env, &EnvSecrets(env)).unwrap()
}

/// Keeps what was enqueued.
#[derive(Default, Clone)]
pub struct RecordingQueue(pub Arc<Mutex<Vec<WorkItem>>>);

impl RecordingQueue {
    pub fn items(&self) -> Vec<WorkItem> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait]
impl Queue for RecordingQueue {
    async fn enqueue(&self, items: Vec<WorkItem>) -> Result<(), QueueError> {
        self.0.lock().unwrap().extend(items);
        Ok(())
    }
}

/// Refuses everything, like SQS during an outage.
pub struct FailingQueue;

#[async_trait]
impl Queue for FailingQueue {
    async fn enqueue(&self, items: Vec<WorkItem>) -> Result<(), QueueError> {
        Err(QueueError::Rejected {
            failed: items.len(),
            total: items.len(),
            reason: "ServiceUnavailable: internal detail that must not reach Graph".into(),
        })
    }
}

/// A message a [`RecordingSink`] was given, kept past the post.
#[derive(Debug, Clone)]
pub struct Posted {
    pub routing: riskrelay::alert::Routing,
    pub view: riskrelay::render::View,
}

/// A destination that keeps every message it is given.
#[derive(Default)]
pub struct RecordingSink(Mutex<Vec<Posted>>);

impl RecordingSink {
    pub fn messages(&self) -> Vec<Posted> {
        self.0.lock().unwrap().clone()
    }

    /// What a person would read, one text per user alert.
    pub fn user_texts(&self) -> Vec<String> {
        self.messages()
            .iter()
            .filter(|m| {
                m.routing
                    .incident
                    .as_deref()
                    .is_some_and(|i| i.starts_with("user/"))
            })
            .map(|m| riskrelay::render::console::text(&m.view))
            .collect()
    }
}

#[async_trait]
impl riskrelay::sink::Sink for RecordingSink {
    fn name(&self) -> &str {
        "recording"
    }

    fn min_level(&self) -> &RiskLevel {
        &RiskLevel::Low
    }

    async fn post(
        &self,
        message: &riskrelay::sink::Outgoing<'_>,
    ) -> Result<(), riskrelay::sink::SinkError> {
        self.0.lock().unwrap().push(Posted {
            routing: message.routing.clone(),
            view: message.view.clone(),
        });
        Ok(())
    }
}

/// Captures tracing output of the current thread while the guard lives.
pub struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::dispatcher::DefaultGuard,
}

impl LogCapture {
    pub fn start() -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || CaptureWriter(writer.clone()))
            .finish();
        Self {
            buf,
            _guard: tracing::dispatcher::set_default(&subscriber.into()),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The moto server started by the test command (`scripts/test.sh`).
pub fn moto_endpoint() -> String {
    std::env::var("RISKRELAY_TEST_MOTO_URL").expect(
        "RISKRELAY_TEST_MOTO_URL is not set: run the tests with scripts/test.sh, which starts moto",
    )
}

pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

/// A name no other test (or earlier run against the same moto) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Writes a chat payload the tests produced where the test command's validators look for it
/// (`RISKRELAY_PAYLOAD_DIR/{slack,teams}/{name}.json`). Without the variable, nothing is written.
pub fn record_payload(kind: &str, name: &str, payload: &serde_json::Value) {
    let Ok(dir) = std::env::var("RISKRELAY_PAYLOAD_DIR") else {
        return;
    };
    let dir = std::path::Path::new(&dir).join(kind);
    std::fs::create_dir_all(&dir).unwrap();
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    std::fs::write(
        dir.join(format!("{safe}.json")),
        serde_json::to_vec_pretty(payload).unwrap(),
    )
    .unwrap();
}

/// Records every JSON body a fake chat server received.
pub async fn record_received(kind: &str, prefix: &str, server: &wiremock::MockServer) {
    for (i, r) in server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) {
            record_payload(kind, &format!("{prefix}-{i}"), &v);
        }
    }
}

pub mod samples {
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
            additional_info: Some(
                "[{\"Key\":\"riskReasons\",\"Value\":[\"suspiciousIP\"]}]".into(),
            ),
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
                }).collect(),
            })),
            ("baseline", Message::Baseline(Baseline {
                key: "baseline/1".into(),
                tenant_id: tenant(),
                high: 2,
                medium: 5,
                low: 11,
                other: 0,
                top: vec![DigestEntry { display_name: "Alex Wilber".into(), upn: Some("alexw@contoso.com".into()), change: Change::NewRisk, level: RiskLevel::High, top_detection: Some("Leaked credentials".into()) }],
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
            ("new-risk-with-actions", {
                let mut a = user_alert(Change::NewRisk, "Adsync User 2");
                a.key.push_str("/actions");
                a.actions = riskrelay::action_link::ActionKind::ALL
                    .into_iter()
                    .map(|action| riskrelay::action_link::ActionButton {
                        action,
                        url: format!("https://riskrelay.contoso.com/actions/v1.{}.signature", action.name()),
                    })
                    .collect();
                Message::User(Box::new(a))
            }),
            ("action-taken", Message::Action(action_notice())),
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
        }
    }

    fn snooze(held: u32) -> riskrelay::snooze::Snooze {
        riskrelay::snooze::Snooze {
            user: riskrelay::ids::UserRef::Upn("adsync2@contoso.com".into()),
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
}

/// A fake chat endpoint: POSTs to `path` get `reply`, at most `times` times (always when `None`),
/// and the server checks on drop that it got exactly `expect` of them (when given).
pub async fn answer(
    server: &wiremock::MockServer,
    path: &str,
    reply: wiremock::ResponseTemplate,
    times: Option<u64>,
    expect: Option<u64>,
) {
    let mut mock = wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(path))
        .respond_with(reply);
    if let Some(n) = times {
        mock = mock.up_to_n_times(n);
    }
    if let Some(n) = expect {
        mock = mock.expect(n);
    }
    mock.mount(server).await;
}

/// Fake chat webhook URLs. Their secret-looking parts let tests check that no URL leaks.
pub const SLACK_PATH: &str = "/services/T000/B000/sl4ckS3cretPart";
pub const TEAMS_PATH: &str = "/workflows/abc/triggers/manual/paths/invoke";

pub fn slack_sink(server: &MockServer, min: RiskLevel) -> SinkConfig {
    SinkConfig {
        name: "slack".into(),
        kind: SinkKind::Slack,
        url: secrecy::SecretString::from(format!("{}{SLACK_PATH}", server.uri())),
        min_level: min,
        key: None,
    }
}

pub fn teams_sink(server: &MockServer, min: RiskLevel) -> SinkConfig {
    SinkConfig {
        name: "teams".into(),
        kind: SinkKind::Teams,
        url: secrecy::SecretString::from(format!(
            "{}{TEAMS_PATH}?api-version=1&sig=t3amsS1gnature",
            server.uri()
        )),
        min_level: min,
        key: None,
    }
}

/// `user` added to `sim` at high risk from one offline leaked-credentials detection.
pub fn high_risk(sim: &Simulator, user: crate::SimUser) -> riskrelay::ids::UserId {
    let id = sim.add_user(user);
    sim.detect(id, crate::DetectionSpec::leaked_credentials());
    id
}

/// The fake PagerDuty Events API's path, and a routing key whose shape PagerDuty would accept.
pub const PAGERDUTY_PATH: &str = "/v2/enqueue";
pub const ROUTING_KEY: &str = "R0ut1ngK3yR0ut1ngK3yR0ut1ngK3y12";

pub fn pagerduty_sink(server: &MockServer, min: RiskLevel) -> SinkConfig {
    SinkConfig {
        name: "oncall".into(),
        kind: SinkKind::PagerDuty,
        url: secrecy::SecretString::from(format!("{}{PAGERDUTY_PATH}", server.uri())),
        min_level: min,
        key: Some(secrecy::SecretString::from(ROUTING_KEY)),
    }
}

/// The fake Events API accepts every event as PagerDuty does: 202 with the dedup key.
pub async fn ok_pagerduty(server: &MockServer) {
    answer(
        server,
        PAGERDUTY_PATH,
        ResponseTemplate::new(202).set_body_json(serde_json::json!({
            "status": "success", "message": "Event processed", "dedup_key": "riskrelay"
        })),
        None,
        None,
    )
    .await;
}

/// The fake Slack endpoint accepts every post, as Slack does: 200 "ok".
pub async fn ok_slack(server: &MockServer) {
    answer(
        server,
        SLACK_PATH,
        ResponseTemplate::new(200).set_body_string("ok"),
        None,
        None,
    )
    .await;
}

/// The fake Teams Workflows endpoint accepts every post, as a trigger does: 202, no body.
pub async fn ok_teams(server: &MockServer) {
    answer(server, TEAMS_PATH, ResponseTemplate::new(202), None, None).await;
}

/// The application as every entry point builds it ([`App::build`]), against the simulated
/// tenant, an in-memory store and fake Slack and Teams servers. Tests change `settings` before
/// building, and the simulator, store and servers as they go.
pub struct TestApp {
    pub sim: Simulator,
    pub store: Arc<MemoryStore>,
    pub slack: MockServer,
    pub teams: MockServer,
    pub settings: Settings,
}

impl TestApp {
    pub async fn start() -> Self {
        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        let slack = MockServer::start().await;
        let teams = MockServer::start().await;
        let mut graph = sim.graph_config();
        graph.retry = fast_retry(graph.retry.max_attempts);
        let mut settings = Settings::with_graph(graph);
        settings.alerts.sinks = vec![
            slack_sink(&slack, RiskLevel::Low),
            teams_sink(&teams, RiskLevel::Low),
        ];
        Self {
            sim,
            store: Arc::new(MemoryStore::default()),
            slack,
            teams,
            settings,
        }
    }

    /// The parts for `role`, handing work to `queue` (the in-process queue when `None`).
    pub fn build(&self, role: Role, queue: Option<Arc<dyn Queue>>) -> App {
        let store: Arc<dyn Store> = self.store.clone();
        let mut adapters = Adapters::new(store);
        adapters.queue = queue;
        adapters.inline_retry.base_delay = std::time::Duration::from_millis(20);
        App::build(&self.settings, role, adapters).unwrap()
    }

    pub fn worker(&self) -> Arc<Worker> {
        self.build(Role::Worker, None).worker.unwrap()
    }

    pub fn graph(&self) -> GraphClient {
        GraphClient::new(&self.settings.graph).unwrap()
    }

    /// `user` added at high risk from one offline leaked-credentials detection.
    pub fn high_risk(&self, user: crate::SimUser) -> riskrelay::ids::UserId {
        high_risk(&self.sim, user)
    }

    /// A synced user (`uid`-numbered) at high risk from one offline leaked-credentials detection.
    pub fn high_risk_user(&self, n: u128, name: &str, upn: &str) -> riskrelay::ids::UserId {
        self.high_risk(crate::SimUser::new(uid(n), name, upn).synced())
    }

    /// Both chat servers accept every post.
    pub async fn ok_sinks(&self) {
        ok_slack(&self.slack).await;
        ok_teams(&self.teams).await;
    }

    /// Posts received by (Slack, Teams).
    pub async fn posts(&self) -> (usize, usize) {
        (
            self.slack.received_requests().await.unwrap().len(),
            self.teams.received_requests().await.unwrap().len(),
        )
    }

    /// A posture snapshot taken at `at`: the setting on, password sync fresh, no CA policy.
    pub async fn save_posture(&self, at: OffsetDateTime) {
        let snapshot = PostureSnapshot {
            checked_at: at,
            setting: Known::Known { value: true },
            password_sync: Known::Known {
                value: PasswordSync::Fresh { last: at },
            },
            user_risk_policies: Known::Known { value: vec![] },
        };
        store::save(
            self.store.as_ref(),
            self.sim.tenant_id(),
            store::keys::POSTURE,
            &snapshot,
            None,
        )
        .await
        .unwrap();
    }
}

pub const WEBHOOK_PATH: &str = "/hooks/riskrelay";
/// Standard Webhooks secrets (the base64 of 24 random bytes each): the current one and the one
/// being rotated out.
pub const SIGNING_SECRET: &str = "whsec_Kb7Vq2m9XwR4tN8pL1sD6fH3jZ0cY5eA";
pub const OLD_SIGNING_SECRET: &str = "whsec_U2lnbmluZ0tleVJvdGF0ZWRPdXQxMjM0";

pub fn webhook_sink(server: &MockServer, min: RiskLevel, secrets: &str) -> SinkConfig {
    SinkConfig {
        name: "siem".into(),
        kind: SinkKind::Webhook,
        url: secrecy::SecretString::from(format!("{}{WEBHOOK_PATH}", server.uri())),
        min_level: min,
        key: Some(secrecy::SecretString::from(secrets)),
    }
}

/// Every body the server received, parsed as JSON, in order.
pub async fn received_json(server: &MockServer) -> Vec<serde_json::Value> {
    received_text(server)
        .await
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect()
}

/// The user as a poll cycle hands them on: with the risky-user record and the detections the
/// simulated tenant holds, so the worker needs no Graph read of its own.
pub fn polled(
    sim: &Simulator,
    id: riskrelay::ids::UserId,
    cycle_id: &str,
) -> riskrelay::observation::WorkItem {
    use riskrelay::observation::{Fetched, Observation, Origin, Subject, WorkItem};
    WorkItem::Observation(Observation {
        tenant_id: sim.tenant_id(),
        subject: Subject::RiskyUser { user_id: id },
        origin: Origin::Poll {
            cycle_id: cycle_id.into(),
        },
        observed_at: OffsetDateTime::now_utc(),
        fetched: Some(Fetched {
            risky_user: sim.risky_user(id).unwrap(),
            detections: sim.detections_of(id),
        }),
    })
}

/// Every body the server received, as text, in order.
pub async fn received_text(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

pub fn fast_retry(max_attempts: u32) -> riskrelay::http::RetryPolicy {
    riskrelay::http::RetryPolicy {
        max_attempts,
        base_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(200),
        budget: std::time::Duration::from_secs(20),
        max_retry_after: std::time::Duration::from_secs(20),
    }
}

/// A webhook hint about `subject`.
pub fn hint(rig: &TestApp, subject: riskrelay::observation::Subject) -> WorkItem {
    WorkItem::Observation(riskrelay::observation::Observation {
        tenant_id: rig.sim.tenant_id(),
        subject,
        origin: riskrelay::observation::Origin::Webhook {
            subscription_id: riskrelay::ids::SubscriptionId::parse(SUBSCRIPTION).unwrap(),
            change_type: riskrelay::notification::ChangeType::Updated,
        },
        observed_at: OffsetDateTime::now_utc(),
        fetched: None,
    })
}

pub fn uid(n: u128) -> riskrelay::ids::UserId {
    riskrelay::ids::UserId::from_uuid(uuid::Uuid::from_u128(
        0xb000_0000_0000_4000_8000_0000_0000_0000 + n,
    ))
}

pub async fn dynamo_store() -> riskrelay::store::dynamo::DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&aws_config().await);
    let table = unique("riskrelay");
    riskrelay::store::dynamo::DynamoStore::create_table(&client, &table)
        .await
        .unwrap();
    riskrelay::store::dynamo::DynamoStore::new(client, table)
}

/// The repository's root (the events, the schemas, the tools and `.tools/` live there).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
