//! Parking in the self-hosted service: a message a destination will not take is set aside once,
//! said once on every destination, and the cycle moves on; a replay posts it later.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use riskrelay::app::{Adapters, Parts, ServiceParts};
use riskrelay::parking::{self, PARK_AFTER_ATTEMPTS, Selection};
use riskrelay::risk::RiskLevel;
use riskrelay::sink::{Outgoing, Sink, SinkError};
use riskrelay::store::Store;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

use riskrelay_sim::testkit::{SLACK_PATH, TestApp, ok_slack, ok_teams, received_text};

#[tokio::test]
async fn a_payload_slack_rejects_is_parked_once_the_cycle_moves_on_and_a_replay_posts_it() {
    let t = TestApp::start().await;
    t.ok_sinks().await;
    let app = t.build::<ServiceParts>(None);
    let poller = app.poller.clone();
    poller.poll().await.unwrap(); // the baseline of an empty tenant, one message
    t.slack.reset().await;
    t.teams.reset().await;
    // Slack refuses the one alert that names the poison user (as it refuses a block it cannot
    // render) and takes everything else.
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .and(body_string_contains("poison@contoso.com"))
        .respond_with(ResponseTemplate::new(400).set_body_string("invalid_blocks"))
        .mount(&t.slack)
        .await;
    t.ok_sinks().await;
    t.high_risk_user(1, "Fine User", "fine@contoso.com");
    t.high_risk_user(2, "Poison User", "poison@contoso.com");

    let cycle = poller.poll().await;
    assert!(
        cycle.is_ok(),
        "the cycle succeeds and its checkpoint moves: {cycle:?}"
    );
    let store: &dyn Store = t.store.as_ref();
    let parked = parking::list(store, t.sim.tenant_id()).await.unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].sink, "slack");
    assert_eq!(
        parked[0].attempts, 1,
        "a permanent rejection is not retried"
    );
    assert!(parked[0].error.contains("invalid_blocks"), "{parked:?}");
    assert!(parking::summary(&parked[0].message).contains("Poison User"));

    let slack = received_text(&t.slack).await;
    let teams = received_text(&t.teams).await;
    let notices = |posts: &[String]| {
        posts
            .iter()
            .filter(|b| b.contains("could not be delivered and was set aside"))
            .count()
    };
    assert_eq!(
        (slack.len(), teams.len()),
        (3, 3),
        "Slack: the fine alert, the refused one (once) and the notice; Teams: both alerts and the notice"
    );
    assert_eq!((notices(&slack), notices(&teams)), (1, 1));
    assert!(
        teams
            .iter()
            .any(|b| b.contains(&parked[0].id) && b.contains("riskrelay parked")),
        "the notice names the parked id and the command"
    );

    // The next cycle posts nothing again: the checkpoint moved and the user's state was recorded.
    poller.poll().await.unwrap();
    assert_eq!(t.posts().await, (3, 3));

    // A replay while Slack still refuses keeps it parked; once Slack takes it, it is posted once
    // and leaves the list. Teams, which had it, gets nothing.
    let worker = app.worker.clone();
    let outcomes = worker.replay_parked(&Selection::All).await.unwrap();
    assert!(outcomes[0].1.is_err(), "{outcomes:?}");
    assert_eq!(
        parking::list(store, t.sim.tenant_id()).await.unwrap().len(),
        1
    );
    t.slack.reset().await;
    ok_slack(&t.slack).await;
    let err = worker
        .replay_parked(&Selection::One("nope".into()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no parked message has the id nope"), "{err}");
    let outcomes = worker
        .replay_parked(&Selection::One(parked[0].id.clone()))
        .await
        .unwrap();
    assert_eq!(outcomes, vec![(parked[0].id.clone(), Ok(()))]);
    let slack = received_text(&t.slack).await;
    assert_eq!(slack.len(), 1);
    assert!(slack[0].contains("poison@contoso.com"));
    assert!(
        parking::list(store, t.sim.tenant_id())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(t.teams.received_requests().await.unwrap().len(), 3);
}

/// Fails every post that mentions `poison` as a retryable error (an endpoint that keeps
/// answering 503 for it), takes the rest.
#[derive(Default)]
struct Flaky {
    attempts: Mutex<usize>,
    delivered: Mutex<Vec<String>>,
}

#[async_trait]
impl Sink for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }

    fn min_level(&self) -> &RiskLevel {
        &RiskLevel::Low
    }

    async fn post(&self, message: &Outgoing<'_>) -> Result<(), SinkError> {
        let text = riskrelay::render::console::text(&message.view);
        if text.contains("poison@") {
            *self.attempts.lock().unwrap() += 1;
            return Err(SinkError::Retryable {
                sink: "flaky".into(),
                class: riskrelay::sink::FailureClass::Status(503),
                detail: "answered 503".into(),
            });
        }
        self.delivered.lock().unwrap().push(text);
        Ok(())
    }
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_parked_after_the_bounded_attempts_and_not_before() {
    let mut t = TestApp::start().await;
    t.settings.alerts.sinks.clear();
    let flaky = Arc::new(Flaky::default());
    let store: Arc<dyn Store> = t.store.clone();
    let mut adapters = Adapters::new(store.clone());
    adapters.inline_retry.base_delay = std::time::Duration::from_millis(1);
    adapters.inline_retry.max_delay = std::time::Duration::from_millis(1);
    adapters.built_sinks.push(flaky.clone());
    let app = ServiceParts::build(&t.settings, adapters).unwrap();
    let poller = app.poller.clone();
    poller.poll().await.unwrap();
    t.high_risk_user(1, "Fine User", "fine@contoso.com");
    t.high_risk_user(2, "Poison User", "poison@contoso.com");

    // Three attempts per cycle: the first three cycles fail (checkpoint kept), the fourth parks.
    let mut cycles = 0;
    while poller.poll().await.is_err() {
        cycles += 1;
        assert!(cycles < 10, "never parked");
        assert!(
            parking::list(store.as_ref(), t.sim.tenant_id())
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(cycles, 3, "three failed cycles before the one that parked");
    assert_eq!(
        *flaky.attempts.lock().unwrap(),
        PARK_AFTER_ATTEMPTS as usize
    );
    let parked = parking::list(store.as_ref(), t.sim.tenant_id())
        .await
        .unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].attempts, PARK_AFTER_ATTEMPTS);
    let delivered = flaky.delivered.lock().unwrap().clone();
    assert_eq!(
        delivered
            .iter()
            .filter(|m| m.contains("fine@contoso.com"))
            .count(),
        1,
        "the fine alert went out once, in the first cycle: {delivered:#?}"
    );
    assert_eq!(
        delivered.iter().filter(|m| m.contains("set aside")).count(),
        1
    );
    poller.poll().await.unwrap();
    assert_eq!(
        *flaky.attempts.lock().unwrap(),
        PARK_AFTER_ATTEMPTS as usize
    );
}

#[tokio::test]
async fn the_lambda_worker_does_not_park_its_queue_dead_letters() {
    let t = TestApp::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_string("invalid_blocks"))
        .mount(&t.slack)
        .await;
    ok_teams(&t.teams).await;
    t.save_posture(time::OffsetDateTime::now_utc()).await;
    let id = t.high_risk_user(1, "Poison User", "poison@contoso.com");
    let report = t
        .worker()
        .process(&[riskrelay_sim::testkit::hint(
            &t,
            riskrelay::observation::Subject::RiskyUser { user_id: id },
        )])
        .await;
    assert!(report.results[0].is_err(), "{report:?}");
    assert!(report.parked.is_empty());
    let store: &dyn Store = t.store.as_ref();
    assert!(
        parking::list(store, t.sim.tenant_id())
            .await
            .unwrap()
            .is_empty()
    );
}
