//! Snoozes: what they hold back, what breaks through, the notices they owe the channel, and the
//! command that sets them (on SQLite and on DynamoDB).

use std::sync::Arc;

use riskrelay::app::ServiceParts;
use riskrelay::features;
use riskrelay::observation::Subject;
use riskrelay::reconcile::UserState;
use riskrelay::risk::{DetectionTimingType, RiskDetail, RiskLevel, RiskState};
use riskrelay::snooze;
use riskrelay::store::{self, Store};
use riskrelay_sim::{DetectionSpec, SimUser};
use time::{Duration, OffsetDateTime};

use riskrelay_sim::testkit::{TestApp, record_received};

/// The notification text of every Slack post, in order.
async fn slack_texts(t: &TestApp) -> Vec<String> {
    riskrelay_sim::testkit::received_json(&t.slack)
        .await
        .iter()
        .map(|v| v.to_string())
        .collect()
}

fn medium(kind: &str) -> DetectionSpec {
    DetectionSpec::new(
        kind,
        "signin",
        RiskLevel::Medium,
        DetectionTimingType::Realtime,
    )
}

#[tokio::test]
async fn a_snooze_holds_back_new_detections_but_not_an_escalation_or_a_compromise() {
    let t = TestApp::start().await;
    t.ok_sinks().await;
    t.save_posture(OffsetDateTime::now_utc()).await;
    let app = t.build::<ServiceParts>(None);
    let (worker, queue) = (app.worker.clone(), app.queue.clone());
    let tenant = t.sim.tenant_id();
    let id = t.sim.add_user(SimUser::new(
        riskrelay_sim::testkit::uid(30),
        "Sam Snooze",
        "sam",
    ));
    t.sim.detect(id, medium("unfamiliarFeatures"));
    let hint = riskrelay_sim::testkit::hint(&t, Subject::RiskyUser { user_id: id });
    worker.process(std::slice::from_ref(&hint)).await;
    assert_eq!(t.posts().await, (1, 1), "the new risk is posted");

    // Snoozed by user principal name, as an analyst would type it.
    let now = OffsetDateTime::now_utc();
    let s = snooze::new(
        "Sam@Contoso.com",
        Duration::days(7),
        "password reset booked with the helpdesk",
        "alice",
        None,
        now,
    )
    .unwrap();
    features::snooze::update(t.store.as_ref(), tenant, |b| b.add(s.clone()))
        .await
        .unwrap();
    assert_eq!(
        features::snooze::hand_over(t.store.as_ref(), tenant, queue.as_ref(), now)
            .await
            .unwrap(),
        1
    );
    let texts = slack_texts(&t).await;
    assert_eq!(texts.len(), 2);
    assert!(
        texts[1].contains("User snoozed")
            && texts[1].contains("sam@contoso.com")
            && texts[1].contains("alice")
            && texts[1].contains("password reset booked"),
        "{}",
        texts[1]
    );
    assert_eq!(
        features::snooze::hand_over(t.store.as_ref(), tenant, queue.as_ref(), now)
            .await
            .unwrap(),
        0,
        "the snooze is posted once"
    );

    // A new detection at the same level: held back, but its state is recorded.
    let held = t.sim.detect(id, medium("anonymizedIPAddress"));
    worker.process(std::slice::from_ref(&hint)).await;
    assert_eq!(t.posts().await, (2, 2), "held back");
    let state = store::load::<UserState>(t.store.as_ref(), tenant, &store::keys::user(id))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert!(state.known_detections.contains(&held), "{state:?}");
    let (book, _) = features::snooze::load(t.store.as_ref(), tenant)
        .await
        .unwrap();
    assert_eq!(
        (
            book.active[0].held,
            book.active[0].user_id,
            book.active[0].level.clone()
        ),
        (1, Some(id), Some(RiskLevel::Medium)),
        "learnt from the first alert: the user and the level they were snoozed at"
    );

    // An escalation to high breaks through, and says who snoozed the user and why.
    t.sim
        .set_risk(id, RiskLevel::High, RiskState::AtRisk, RiskDetail::None);
    worker.process(std::slice::from_ref(&hint)).await;
    let texts = slack_texts(&t).await;
    assert_eq!(texts.len(), 3, "the escalation is posted");
    assert!(
        texts[2].contains("Snoozed")
            && texts[2].contains("by alice")
            && texts[2].contains("breaks through"),
        "{}",
        texts[2]
    );

    // So does a confirmed compromise.
    t.sim.set_risk(
        id,
        RiskLevel::High,
        RiskState::ConfirmedCompromised,
        RiskDetail::AdminConfirmedUserCompromised,
    );
    worker.process(std::slice::from_ref(&hint)).await;
    let texts = slack_texts(&t).await;
    assert_eq!(texts.len(), 4, "the compromise is posted");
    assert!(texts[3].contains("by alice"), "{}", texts[3]);

    // The snooze runs out with the user still at risk: one reminder.
    let later = now + Duration::days(8);
    assert_eq!(
        features::snooze::hand_over(t.store.as_ref(), tenant, queue.as_ref(), later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        features::snooze::hand_over(t.store.as_ref(), tenant, queue.as_ref(), later)
            .await
            .unwrap(),
        0
    );
    let texts = slack_texts(&t).await;
    assert_eq!(texts.len(), 5);
    assert!(
        texts[4].contains("Snooze ended: the user is still at risk")
            && texts[4].contains("still high")
            && texts[4].contains("Held back"),
        "{}",
        texts[4]
    );
    record_received("slack", "snooze", &t.slack).await;
    record_received("teams", "snooze", &t.teams).await;
}

#[tokio::test]
async fn a_lifted_snooze_is_posted_and_alerts_flow_again() {
    let t = TestApp::start().await;
    t.ok_sinks().await;
    t.save_posture(OffsetDateTime::now_utc()).await;
    let app = t.build::<ServiceParts>(None);
    let (worker, queue) = (app.worker.clone(), app.queue.clone());
    let tenant = t.sim.tenant_id();
    let id = t.high_risk_user(31, "Lee Lifted", "lee");
    let now = OffsetDateTime::now_utc();
    // Snoozed by id before riskrelay ever saw the user: the level is learnt from the first alert.
    let s = snooze::new(
        &id.to_string(),
        Duration::hours(4),
        "travelling",
        "bob",
        None,
        now,
    )
    .unwrap();
    features::snooze::update(t.store.as_ref(), tenant, |b| b.add(s.clone()))
        .await
        .unwrap();
    let hint = riskrelay_sim::testkit::hint(&t, Subject::RiskyUser { user_id: id });
    worker.process(std::slice::from_ref(&hint)).await;
    assert_eq!(t.posts().await, (0, 0), "the new risk is held back");
    assert!(
        features::snooze::update(t.store.as_ref(), tenant, |b| b.clear(
            &riskrelay::snooze::Subject::User(riskrelay::ids::UserRef::Id(id)),
            "carol",
            now
        ))
        .await
        .unwrap()
    );
    features::snooze::hand_over(t.store.as_ref(), tenant, queue.as_ref(), now)
        .await
        .unwrap();
    let texts = slack_texts(&t).await;
    // The snooze was never announced before it was lifted: only the lifting is posted.
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("Snooze lifted") && texts[0].contains("carol"),
        "{}",
        texts[0]
    );
    t.sim.detect(id, medium("unfamiliarFeatures"));
    worker.process(&[hint]).await;
    assert_eq!(t.posts().await, (2, 2), "alerts flow again");
}

/// The command: its refusals are clear and store nothing; what it stores, the DynamoDB table of a
/// deployment included, is what `--list` shows.
#[tokio::test]
async fn the_snooze_command_on_dynamodb_refuses_bad_input_and_lists_what_it_stored() {
    let dynamo = riskrelay_sim::testkit::dynamo_store().await;
    let table = dynamo.table_name().to_string();
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let tenant = "11111111-2222-3333-4444-555555555555";
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_riskrelay"));
        cmd.env_clear()
            .env("RISKRELAY_TENANT_ID", tenant)
            .env("AWS_ENDPOINT_URL", riskrelay_sim::testkit::moto_endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(["snooze", "--table", &table])
            .args(args);
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    for (args, says) in [
        (
            vec![
                "ada@contoso.com",
                "--for",
                "45d",
                "--reason",
                "x",
                "--by",
                "alice",
            ],
            "longer than 30 days",
        ),
        (
            vec!["ada@contoso.com", "--for", "7d", "--by", "alice"],
            "needs a reason",
        ),
        (
            vec!["ada", "--for", "7d", "--reason", "x", "--by", "alice"],
            "is not a user principal name",
        ),
        (
            vec!["ada@contoso.com", "--for", "7d", "--reason", "x"],
            "--by",
        ),
        (
            vec![
                "ada@contoso.com",
                "--for",
                "7d",
                "--reason",
                "x",
                "--by",
                &"b".repeat(129),
            ],
            "--by is longer than 128",
        ),
        (
            vec![
                &"a".repeat(300),
                "--for",
                "7d",
                "--reason",
                "x",
                "--by",
                "alice",
            ],
            "the name is longer than 256",
        ),
        (
            vec![
                "\u{1b}[2Jada",
                "--for",
                "7d",
                "--reason",
                "x",
                "--by",
                "alice",
            ],
            "\\u{1b}[2Jada\" is not a user principal name",
        ),
        (
            vec![
                "ada@contoso.com",
                "--tenant",
                "99999999-2222-3333-4444-555555555555",
                "--for",
                "7d",
                "--reason",
                "x",
                "--by",
                "alice",
            ],
            "not the tenant this deployment watches",
        ),
    ] {
        let (code, text) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {text}");
        assert!(text.contains(says), "{args:?}: {text}");
    }
    assert_eq!(run(&["--list"]), (Some(0), "nobody is snoozed\n".into()));
    let (code, text) = run(&[
        "Ada@Contoso.com",
        "--for",
        "7d",
        "--reason",
        "handled in INC-4711",
        "--by",
        "alice",
    ]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&["--list"]);
    assert_eq!(code, Some(0));
    assert!(
        text.starts_with("ada@contoso.com\tuntil ")
            && text.contains("by alice")
            && text.contains("handled in INC-4711"),
        "{text}"
    );
    // A reason and a name that would move the cursor, clear the screen or reverse the line are
    // shown escaped, never raw.
    let (code, text) = run(&[
        "bob@contoso.com",
        "--for",
        "1d",
        "--reason",
        "fixed\n\u{1b}[2J\u{202E}deppots",
        "--by",
        "mallory\u{200B}\u{1b}[31m",
    ]);
    assert_eq!(code, Some(0), "{text}");
    let (_, text) = run(&["--list"]);
    assert!(
        !text
            .chars()
            .any(|c| c == '\u{1b}' || c == '\u{202E}' || c == '\u{200B}'),
        "{text:?}"
    );
    assert!(
        text.contains("by mallory\\u{200b}\\u{1b}[31m")
            && text.contains("fixed\\u{a}\\u{1b}[2J\\u{202e}deppots"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "one line each: {text}");
    let (book, _) = features::snooze::load(
        store.as_ref(),
        riskrelay::ids::TenantId::parse(tenant).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(book.active.len(), 2);
    assert_eq!(
        run(&["--clear", "bob@contoso.com", "--by", "bob"]).0,
        Some(0)
    );
    assert_eq!(
        run(&["--clear", "ada@contoso.com", "--by", "bob"]).0,
        Some(0)
    );
    assert_eq!(
        run(&["--clear", "ada@contoso.com", "--by", "bob"]).0,
        Some(1)
    );
    assert_eq!(run(&["--list"]).1, "nobody is snoozed\n");

    // A workload identity, by app id, as RISKRELAY_EXCLUDE names it.
    let (code, text) = run(&["app:", "--for", "1d", "--reason", "x", "--by", "a"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("or app:<app id or object id>"), "{text}");
    let app = "app:0B7C2E19-55AA-4D2E-B1A0-9F8E7D6C5B4A";
    let (code, text) = run(&[
        app,
        "--for",
        "2d",
        "--reason",
        "rotating the secret",
        "--by",
        "alice",
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with("app:0b7c2e19-55aa-4d2e-b1a0-9f8e7d6c5b4a snoozed until"),
        "{text}"
    );
    let (_, text) = run(&["--list"]);
    assert!(
        text.starts_with("app:0b7c2e19-55aa-4d2e-b1a0-9f8e7d6c5b4a\tuntil ")
            && text.contains("rotating the secret"),
        "{text}"
    );
    assert_eq!(run(&["--clear", app, "--by", "bob"]).0, Some(0));
    assert_eq!(run(&["--list"]).1, "nobody is snoozed\n");
}
