//! Delivery against fake Slack and Teams servers: retries, classification, exactly-once.

use std::sync::Arc;
use std::time::Duration;

use riskrelay::alert::{AlertKind, Change, Message};
use riskrelay::deliver::{DeliverError, Delivery, Report};
use riskrelay::risk::RiskLevel;
use riskrelay::sink::config::{SinkConfig, SinkKind};
use riskrelay::sink::{self, SinkError};
use riskrelay::store::Store;
use riskrelay::store::memory::MemoryStore;
use time::OffsetDateTime;
use wiremock::{MockServer, ResponseTemplate};

use riskrelay_sim::testkit::{
    LogCapture, PAGERDUTY_PATH, ROUTING_KEY, SLACK_PATH, TEAMS_PATH, answer, ok_teams,
    pagerduty_sink, record_received, samples, slack_sink, teams_sink,
};

fn http(timeout: Duration) -> sink::Http {
    sink::Http {
        client: reqwest::Client::new(),
        timeout,
    }
}

fn delivery(store: Arc<dyn Store>, sinks: &[SinkConfig], threshold: usize) -> Delivery {
    Delivery::new(
        store,
        sink::build(sinks, http(Duration::from_secs(5))),
        AlertKind::ALL.into_iter().collect(),
        threshold,
    )
}

fn alert(n: usize, level: RiskLevel) -> Message {
    let mut a = samples::user_alert(Change::NewRisk, &format!("User {n}"));
    a.key = format!("user/test/{n}/newRisk/1");
    a.user.risk_level = level;
    Message::User(Box::new(a))
}

/// One high alert delivered to a fresh fake endpoint of `kind` that answers with `replies` in
/// order (each at most `times` times; `None`: every time from then on). Returns the server, to
/// count what it received, and delivery's report.
async fn deliver_one(
    kind: SinkKind,
    replies: Vec<(ResponseTemplate, Option<u64>)>,
) -> (MockServer, Report) {
    let server = MockServer::start().await;
    let (path, config) = match kind {
        SinkKind::Slack => (SLACK_PATH, slack_sink(&server, RiskLevel::Low)),
        SinkKind::Teams => (TEAMS_PATH, teams_sink(&server, RiskLevel::Low)),
        SinkKind::PagerDuty => (PAGERDUTY_PATH, pagerduty_sink(&server, RiskLevel::Low)),
        SinkKind::Webhook => (
            riskrelay_sim::testkit::WEBHOOK_PATH,
            riskrelay_sim::testkit::webhook_sink(
                &server,
                RiskLevel::Low,
                riskrelay_sim::testkit::SIGNING_SECRET,
            ),
        ),
    };
    for (reply, times) in replies {
        answer(&server, path, reply, times, None).await;
    }
    let d = delivery(Arc::new(MemoryStore::default()), &[config], 10);
    let report = d
        .deliver(&[alert(1, RiskLevel::High)], OffsetDateTime::now_utc())
        .await;
    (server, report)
}

async fn received(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn slack_429_honours_retry_after() {
    let started = std::time::Instant::now();
    let (server, report) = deliver_one(
        SinkKind::Slack,
        vec![
            (
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "2")
                    .set_body_string("rate_limited"),
                Some(1),
            ),
            (ResponseTemplate::new(200).set_body_string("ok"), None),
        ],
    )
    .await;
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(received(&server).await, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After: 2 not honoured"
    );
    record_received("slack", "delivery-429", &server).await;
}

#[tokio::test]
async fn slack_invalid_blocks_is_not_retried_and_logged_without_the_url() {
    let logs = LogCapture::start();
    let (server, report) = deliver_one(
        SinkKind::Slack,
        vec![(
            ResponseTemplate::new(400).set_body_string("invalid_blocks"),
            None,
        )],
    )
    .await;
    assert_eq!(received(&server).await, 1);
    let f = &report.failures[0];
    assert!(
        matches!(&f.error, DeliverError::Sink(SinkError::Permanent { detail, .. }) if detail.contains("400") && detail.contains("invalid_blocks")),
        "{f:?}"
    );
    let text = format!("{} {report:?}", logs.text());
    assert!(text.contains("invalid_blocks"));
    assert!(
        !text.contains("sl4ckS3cretPart") && !text.contains(&server.uri()),
        "{text}"
    );
}

#[tokio::test]
async fn slack_5xx_and_channel_errors_are_classified() {
    for (status, body, retryable) in [
        (500, "rollup_error", true),
        (404, "channel_not_found", false),
        (410, "channel_is_archived", false),
    ] {
        let (server, report) = deliver_one(
            SinkKind::Slack,
            vec![(ResponseTemplate::new(status).set_body_string(body), None)],
        )
        .await;
        assert_eq!(received(&server).await, 1, "{status} is not retried here");
        let DeliverError::Sink(e) = &report.failures[0].error else {
            panic!()
        };
        assert_eq!(e.is_retryable(), retryable, "{status} {e}");
        assert!(e.to_string().contains(body));
    }
}

#[tokio::test]
async fn teams_202_is_success_and_5xx_429_are_retried_within_a_budget() {
    let server = MockServer::start().await;
    answer(
        &server,
        TEAMS_PATH,
        ResponseTemplate::new(503),
        Some(1),
        None,
    )
    .await;
    answer(
        &server,
        TEAMS_PATH,
        ResponseTemplate::new(429).insert_header("retry-after", "1"),
        Some(1),
        None,
    )
    .await;
    ok_teams(&server).await;
    let d = delivery(
        Arc::new(MemoryStore::default()),
        &[teams_sink(&server, RiskLevel::Low)],
        10,
    );
    let report = d
        .deliver(&[alert(1, RiskLevel::High)], OffsetDateTime::now_utc())
        .await;
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    record_received("teams", "delivery-retried", &server).await;

    // Always 503: the budget runs out and the failure is retryable.
    let (server, report) =
        deliver_one(SinkKind::Teams, vec![(ResponseTemplate::new(503), None)]).await;
    assert_eq!(received(&server).await, 3);
    assert!(matches!(&report.failures[0].error, DeliverError::Sink(e) if e.is_retryable()));

    // 413 is not retried.
    let (server, report) =
        deliver_one(SinkKind::Teams, vec![(ResponseTemplate::new(413), None)]).await;
    assert_eq!(received(&server).await, 1);
    assert!(matches!(&report.failures[0].error, DeliverError::Sink(e) if !e.is_retryable()));
}

#[tokio::test]
async fn a_timeout_is_retryable_and_names_no_url() {
    let server = MockServer::start().await;
    answer(
        &server,
        SLACK_PATH,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
        None,
        None,
    )
    .await;
    let sinks = sink::build(
        &[slack_sink(&server, RiskLevel::Low)],
        http(Duration::from_millis(300)),
    );
    let d = Delivery::new(
        Arc::new(MemoryStore::default()),
        sinks,
        AlertKind::ALL.into_iter().collect(),
        10,
    );
    let report = d
        .deliver(&[alert(1, RiskLevel::High)], OffsetDateTime::now_utc())
        .await;
    let DeliverError::Sink(e) = &report.failures[0].error else {
        panic!()
    };
    assert!(
        e.is_retryable() && e.to_string().contains("timed out"),
        "{e}"
    );
    assert!(!e.to_string().contains("sl4ck"));
}

#[tokio::test]
async fn one_sink_failing_and_the_retry_reaching_only_that_sink() {
    let slack = MockServer::start().await;
    let teams = MockServer::start().await;
    answer(
        &slack,
        SLACK_PATH,
        ResponseTemplate::new(200).set_body_string("ok"),
        None,
        Some(1),
    )
    .await;
    answer(
        &teams,
        TEAMS_PATH,
        ResponseTemplate::new(500),
        Some(3),
        None,
    )
    .await;
    ok_teams(&teams).await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let d = delivery(
        store,
        &[
            slack_sink(&slack, RiskLevel::Low),
            teams_sink(&teams, RiskLevel::Low),
        ],
        10,
    );
    let messages = [alert(1, RiskLevel::High)];

    let first = d.deliver(&messages, OffsetDateTime::now_utc()).await;
    assert_eq!(
        first.posted,
        vec![("slack".to_string(), "user/test/1/newRisk/1".to_string())]
    );
    assert_eq!(first.failures.len(), 1);
    assert_eq!(first.failures[0].sink, "teams");

    let retry = d.deliver(&messages, OffsetDateTime::now_utc()).await;
    assert!(retry.failures.is_empty(), "{retry:?}");
    assert_eq!(
        retry.posted,
        vec![("teams".to_string(), "user/test/1/newRisk/1".to_string())]
    );
    assert_eq!(retry.duplicates, 1, "Slack already had it");
    assert_eq!(teams.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_duplicate_posts_nothing() {
    let server = MockServer::start().await;
    answer(
        &server,
        SLACK_PATH,
        ResponseTemplate::new(200).set_body_string("ok"),
        None,
        Some(1),
    )
    .await;
    let d = delivery(
        Arc::new(MemoryStore::default()),
        &[slack_sink(&server, RiskLevel::Low)],
        10,
    );
    d.deliver(&[alert(1, RiskLevel::High)], OffsetDateTime::now_utc())
        .await;
    let again = d
        .deliver(&[alert(1, RiskLevel::High)], OffsetDateTime::now_utc())
        .await;
    assert_eq!((again.posted.len(), again.duplicates), (0, 1));
}

#[tokio::test]
async fn two_concurrent_deliveries_of_the_same_alert_post_once() {
    let server = MockServer::start().await;
    answer(
        &server,
        SLACK_PATH,
        ResponseTemplate::new(200)
            .set_body_string("ok")
            .set_delay(Duration::from_millis(200)),
        None,
        Some(1),
    )
    .await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    // Two workers: separate Delivery values (and sinks) sharing one store.
    let a = delivery(store.clone(), &[slack_sink(&server, RiskLevel::Low)], 10);
    let b = delivery(store, &[slack_sink(&server, RiskLevel::Low)], 10);
    let m = [alert(1, RiskLevel::High)];
    let (ra, rb) = tokio::join!(
        a.deliver(&m, OffsetDateTime::now_utc()),
        b.deliver(&m, OffsetDateTime::now_utc())
    );
    assert_eq!(ra.posted.len() + rb.posted.len(), 1);
    // The loser is told to retry later (or finds it done), never posts.
    let loser = if ra.posted.is_empty() { &ra } else { &rb };
    assert!(loser.duplicates == 1 || matches!(loser.failures[0].error, DeliverError::InProgress));
}

#[tokio::test]
async fn many_alerts_become_one_digest_per_sink_respecting_minimum_levels() {
    let slack = MockServer::start().await;
    let teams = MockServer::start().await;
    answer(
        &slack,
        SLACK_PATH,
        ResponseTemplate::new(200).set_body_string("ok"),
        None,
        Some(1),
    )
    .await;
    answer(
        &teams,
        TEAMS_PATH,
        ResponseTemplate::new(202),
        None,
        Some(3),
    )
    .await;
    let d = delivery(
        Arc::new(MemoryStore::default()),
        &[
            slack_sink(&slack, RiskLevel::Low),
            teams_sink(&teams, RiskLevel::High),
        ],
        10,
    );
    let mut messages: Vec<Message> = (0..12).map(|n| alert(n, RiskLevel::Medium)).collect();
    messages.extend((12..15).map(|n| alert(n, RiskLevel::High)));
    let report = d.deliver(&messages, OffsetDateTime::now_utc()).await;
    assert!(report.failures.is_empty());
    assert_eq!(
        report.digests, 1,
        "Slack: 15 alerts over the threshold of 10"
    );
    let body: serde_json::Value =
        serde_json::from_slice(&slack.received_requests().await.unwrap()[0].body).unwrap();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("15 user risk changes"),
        "{body}"
    );
    // Teams only wants high: 3 alerts, under the threshold, posted one by one.
    record_received("slack", "delivery-digest", &slack).await;
    record_received("teams", "delivery-high-only", &teams).await;

    // Delivered through the digest counts as delivered: a retry posts nothing.
    let again = d.deliver(&messages, OffsetDateTime::now_utc()).await;
    assert!(again.posted.is_empty() && again.duplicates == 18);
}

#[tokio::test]
async fn kinds_not_configured_are_not_posted() {
    let server = MockServer::start().await;
    answer(
        &server,
        SLACK_PATH,
        ResponseTemplate::new(200).set_body_string("ok"),
        None,
        Some(0),
    )
    .await;
    let d = Delivery::new(
        Arc::new(MemoryStore::default()),
        sink::build(
            &[slack_sink(&server, RiskLevel::Low)],
            http(Duration::from_secs(5)),
        ),
        [AlertKind::Remediated].into_iter().collect(),
        10,
    );
    let report = d
        .deliver(&[alert(1, RiskLevel::High)], OffsetDateTime::now_utc())
        .await;
    assert!(report.posted.is_empty() && report.failures.is_empty());
}

/// PagerDuty: a 5xx is tried once more in process; a 429 is handed to the queue at once (PagerDuty
/// advises retrying 30 seconds apart or minutes later, longer than a post should hold its
/// delivery), as a retryable failure; a 400 is refused for good.
#[tokio::test]
async fn pagerduty_retries_a_5xx_hands_a_429_to_the_queue_and_a_refused_event_is_not_retried() {
    let accepted = ResponseTemplate::new(202)
        .set_body_json(serde_json::json!({"status": "success", "dedup_key": "x"}));
    let (server, report) = deliver_one(
        SinkKind::PagerDuty,
        vec![
            (ResponseTemplate::new(502), Some(1)),
            (accepted.clone(), None),
        ],
    )
    .await;
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(received(&server).await, 2);

    let (server, report) = deliver_one(
        SinkKind::PagerDuty,
        vec![
            (
                ResponseTemplate::new(429).insert_header("retry-after", "30"),
                Some(1),
            ),
            (accepted, None),
        ],
    )
    .await;
    assert_eq!(received(&server).await, 1, "no wait in process for a 429");
    let DeliverError::Sink(e) = &report.failures[0].error else {
        panic!("{report:?}")
    };
    assert!(e.is_retryable(), "the queue tries again later: {e}");
    assert_eq!(e.class(), sink::FailureClass::Status(429));

    let logs = LogCapture::start();
    // PagerDuty's answer to an invalid event; one that quoted the key must not leak it.
    let refused = ResponseTemplate::new(400).set_body_json(serde_json::json!({
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [format!("routing_key {ROUTING_KEY} is not known")]
    }));
    let (server, report) = deliver_one(SinkKind::PagerDuty, vec![(refused, None)]).await;
    assert_eq!(received(&server).await, 1, "a 400 is not retried");
    let DeliverError::Sink(e) = &report.failures[0].error else {
        panic!("{report:?}")
    };
    assert!(
        !e.is_retryable() && e.to_string().contains("invalid event"),
        "{e}"
    );
    let text = format!("{} {report:?}", logs.text());
    assert!(!text.contains(ROUTING_KEY), "{text}");
}

/// A user's risk episode is one PagerDuty incident: trigger, an escalation folded into it with
/// the same key, and a resolve when the risk ends. A burst pages each user, never a digest.
#[tokio::test]
async fn pagerduty_pages_once_per_episode_escalates_in_place_and_resolves_itself() {
    use riskrelay::observation::Subject;
    use riskrelay::risk::{DetectionTimingType, RiskDetail, RiskState};
    use riskrelay_sim::DetectionSpec;
    let mut t = riskrelay_sim::testkit::TestApp::start().await;
    let pd = MockServer::start().await;
    riskrelay_sim::testkit::ok_pagerduty(&pd).await;
    t.settings.alerts.sinks = vec![pagerduty_sink(&pd, RiskLevel::Low)];
    t.save_posture(OffsetDateTime::now_utc()).await;
    let worker = t.worker();
    let hint = |id| riskrelay_sim::testkit::hint(&t, Subject::RiskyUser { user_id: id });

    let id = t.sim.add_user(riskrelay_sim::SimUser::new(
        riskrelay_sim::testkit::uid(1),
        "Paged User",
        "paged",
    ));
    t.sim.detect(
        id,
        DetectionSpec::new(
            "unfamiliarFeatures",
            "signin",
            RiskLevel::Medium,
            DetectionTimingType::Realtime,
        ),
    );
    worker.process(&[hint(id)]).await;
    t.sim
        .set_risk(id, RiskLevel::High, RiskState::AtRisk, RiskDetail::None);
    worker.process(&[hint(id)]).await;
    t.sim.end_risk(
        id,
        RiskState::Remediated,
        RiskDetail::UserPerformedSecuredPasswordChange,
    );
    worker.process(&[hint(id)]).await;

    let events = riskrelay_sim::testkit::received_json(&pd).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["trigger", "trigger", "resolve"], "{events:#?}");
    let key = events[0]["dedup_key"].as_str().unwrap();
    assert!(key.contains(&id.to_string()), "{key}");
    assert!(
        events
            .iter()
            .all(|e| e["dedup_key"] == key && e["routing_key"] == ROUTING_KEY)
    );
    assert_eq!(events[0]["payload"]["severity"], "error");
    let link = events[0]["links"][0]["href"].as_str().unwrap();
    assert!(
        link.starts_with("https://entra.microsoft.com/")
            && link.ends_with(&format!("/userId/{id}")),
        "the page links to the user in the Entra admin center: {link}"
    );
    assert_eq!(events[1]["payload"]["severity"], "critical");
    let summary = events[1]["payload"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("Paged User") && summary.chars().count() <= 1024,
        "{summary}"
    );
    assert!(
        events[0]["payload"]["custom_details"]
            .to_string()
            .contains("Unfamiliar sign-in properties"),
        "the detections travel with the page: {}",
        events[0]["payload"]["custom_details"]
    );

    // The user's next risk episode is a new incident: a new key, opened by a trigger.
    t.sim.detect(
        id,
        DetectionSpec::new(
            "anonymizedIPAddress",
            "signin",
            RiskLevel::High,
            DetectionTimingType::Realtime,
        ),
    );
    worker.process(&[hint(id)]).await;
    let last: serde_json::Value =
        serde_json::from_slice(&pd.received_requests().await.unwrap().last().unwrap().body)
            .unwrap();
    assert_eq!(last["event_action"], "trigger");
    assert_ne!(last["dedup_key"], key, "a new episode pages anew");
    assert!(
        last["dedup_key"]
            .as_str()
            .unwrap()
            .contains(&id.to_string())
    );

    // Twelve users at once: twelve pages (a digest is for channels).
    let ids: Vec<_> = (10..22u128)
        .map(|n| t.high_risk_user(n, &format!("Burst {n}"), &format!("burst{n}")))
        .collect();
    let before = pd.received_requests().await.unwrap().len();
    let items: Vec<_> = ids.iter().map(|id| hint(*id)).collect();
    worker.process(&items).await;
    assert_eq!(pd.received_requests().await.unwrap().len() - before, 12);
}

/// A destination told of an episode is told its end, whatever level the risk ended at: a `:high`
/// PagerDuty destination gets the trigger at high, an update at the lowered severity under the
/// same key (not a second critical page), and one resolve of that key when the user remediates
/// from medium. The signed webhook gets its resolving event the same way, even with the ending
/// kinds left out of `RISKRELAY_ALERT_KINDS`; a destination never told of an episode hears
/// nothing of it.
#[tokio::test]
async fn an_incident_opened_at_high_is_updated_when_lowered_and_resolved_when_it_ends_at_medium() {
    use riskrelay::alert::AlertKind;
    use riskrelay::observation::Subject;
    use riskrelay::risk::{DetectionTimingType, RiskDetail, RiskState};
    use riskrelay_sim::DetectionSpec;
    let mut t = riskrelay_sim::testkit::TestApp::start().await;
    let pd = MockServer::start().await;
    riskrelay_sim::testkit::ok_pagerduty(&pd).await;
    let hook = MockServer::start().await;
    riskrelay_sim::testkit::answer(
        &hook,
        riskrelay_sim::testkit::WEBHOOK_PATH,
        ResponseTemplate::new(204),
        None,
        None,
    )
    .await;
    let slack = MockServer::start().await;
    riskrelay_sim::testkit::ok_slack(&slack).await;
    t.settings.alerts.sinks = vec![
        pagerduty_sink(&pd, RiskLevel::High),
        riskrelay_sim::testkit::webhook_sink(
            &hook,
            RiskLevel::High,
            riskrelay_sim::testkit::SIGNING_SECRET,
        ),
        slack_sink(&slack, RiskLevel::High),
    ];
    // Only the beginnings and the changes: the ends are owed to whoever was told anyway.
    t.settings.alerts.kinds = [AlertKind::NewRisk, AlertKind::Escalated, AlertKind::Lowered]
        .into_iter()
        .collect();
    t.save_posture(OffsetDateTime::now_utc()).await;
    let worker = t.worker();
    let hint = |id| riskrelay_sim::testkit::hint(&t, Subject::RiskyUser { user_id: id });
    let detection = |kind: &str| {
        DetectionSpec::new(
            kind,
            "signin",
            RiskLevel::High,
            DetectionTimingType::Realtime,
        )
    };

    let id = t.sim.add_user(riskrelay_sim::SimUser::new(
        riskrelay_sim::testkit::uid(1),
        "Paged User",
        "paged",
    ));
    t.sim.detect(id, detection("anonymizedIPAddress"));
    t.sim
        .set_risk(id, RiskLevel::High, RiskState::AtRisk, RiskDetail::None);
    worker.process(&[hint(id)]).await;
    t.sim
        .set_risk(id, RiskLevel::Medium, RiskState::AtRisk, RiskDetail::None);
    worker.process(&[hint(id)]).await;
    t.sim.end_risk(
        id,
        RiskState::Remediated,
        RiskDetail::UserPerformedSecuredPasswordChange,
    );
    worker.process(&[hint(id)]).await;

    let events = riskrelay_sim::testkit::received_json(&pd).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["trigger", "trigger", "resolve"], "{events:#?}");
    let key = &events[0]["dedup_key"];
    assert!(events.iter().all(|e| e["dedup_key"] == *key), "{events:#?}");
    assert_eq!(events[0]["payload"]["severity"], "critical");
    assert_eq!(
        events[1]["payload"]["severity"], "error",
        "the lowered risk updates the incident at medium's severity"
    );

    let hooked = riskrelay_sim::testkit::received_json(&hook).await;
    let types: Vec<&str> = hooked.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "riskrelay.user.newRisk",
            "riskrelay.user.lowered",
            "riskrelay.user.remediated"
        ],
        "{hooked:#?}"
    );
    let last = &hooked[2]["data"];
    assert_eq!(last["resolves"], true);
    assert_eq!(last["resolvesKey"], hooked[0]["data"]["incident"]);

    // A medium-only episode: the :high destinations were never told of it, nor of its end.
    let quiet = t.sim.add_user(riskrelay_sim::SimUser::new(
        riskrelay_sim::testkit::uid(2),
        "Quiet User",
        "quiet",
    ));
    t.sim.detect(quiet, detection("unfamiliarFeatures"));
    t.sim.set_risk(
        quiet,
        RiskLevel::Medium,
        RiskState::AtRisk,
        RiskDetail::None,
    );
    let before = (
        pd.received_requests().await.unwrap().len(),
        hook.received_requests().await.unwrap().len(),
        slack.received_requests().await.unwrap().len(),
    );
    worker.process(&[hint(quiet)]).await;
    t.sim.end_risk(
        quiet,
        RiskState::Remediated,
        RiskDetail::UserPerformedSecuredPasswordChange,
    );
    worker.process(&[hint(quiet)]).await;
    let after = (
        pd.received_requests().await.unwrap().len(),
        hook.received_requests().await.unwrap().len(),
        slack.received_requests().await.unwrap().len(),
    );
    assert_eq!(before, after);
    // Slack, at :high too, was told of the first episode and heard its end as well.
    let slack_texts = riskrelay_sim::testkit::received_text(&slack).await;
    assert_eq!(slack_texts.len(), 3, "{slack_texts:#?}");
}

/// A redirect is a failure, never a delivery: the production client follows none, so a POST is
/// not turned into a bodiless GET that "succeeds" at the new place. Each 3xx fails for good,
/// naming the status and not the new location, and nothing reaches the redirect's target.
#[tokio::test]
async fn a_destination_answering_with_a_redirect_fails_for_good_and_nothing_reaches_the_target() {
    let target = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&target)
        .await;
    let production = sink::Http {
        client: riskrelay::http::client(Duration::from_secs(5)).unwrap(),
        timeout: Duration::from_secs(5),
    };
    for status in [301, 302, 303, 307, 308] {
        for kind in [
            SinkKind::Slack,
            SinkKind::Teams,
            SinkKind::PagerDuty,
            SinkKind::Webhook,
        ] {
            let server = MockServer::start().await;
            wiremock::Mock::given(wiremock::matchers::any())
                .respond_with(
                    ResponseTemplate::new(status)
                        .insert_header("location", format!("{}/moved/secret-place", target.uri())),
                )
                .mount(&server)
                .await;
            let config = match kind {
                SinkKind::Slack => slack_sink(&server, RiskLevel::Low),
                SinkKind::Teams => teams_sink(&server, RiskLevel::Low),
                SinkKind::PagerDuty => pagerduty_sink(&server, RiskLevel::Low),
                SinkKind::Webhook => riskrelay_sim::testkit::webhook_sink(
                    &server,
                    RiskLevel::Low,
                    riskrelay_sim::testkit::SIGNING_SECRET,
                ),
            };
            let d = Delivery::new(
                Arc::new(MemoryStore::default()),
                sink::build(&[config], production.clone()),
                riskrelay::alert::AlertKind::ALL.into_iter().collect(),
                10,
            );
            let report = d
                .deliver(&[alert(1, RiskLevel::High)], OffsetDateTime::now_utc())
                .await;
            assert!(report.posted.is_empty(), "{status} {kind:?}: {report:?}");
            let DeliverError::Sink(e) = &report.failures[0].error else {
                panic!("{report:?}")
            };
            assert!(!e.is_retryable(), "{status} {kind:?}");
            assert_eq!(e.class(), sink::FailureClass::Redirect(status));
            let text = e.to_string();
            assert!(
                text.contains(&status.to_string()) && text.contains("update the destination's URL"),
                "{text}"
            );
            assert!(!text.contains("secret-place"), "{text}");
            assert_eq!(received(&server).await, 1, "{status} {kind:?}: tried once");
        }
    }
    assert!(
        target.received_requests().await.unwrap().is_empty(),
        "nothing followed a redirect"
    );
}
