//! The composition root: each role builds only its parts, a `missed` lifecycle event in the worker
//! asks the poller instead of polling, and a sink receives what it needs to route.

use std::sync::Arc;

use riskrelay::alert::AlertKind;
use riskrelay::app::{Adapters, Parts, PollerParts, ServiceParts, WorkerParts};
use riskrelay::ids::SubscriptionId;
use riskrelay::notification::LifecycleKind;
use riskrelay::observation::{LifecycleEvent, Subject, WorkItem};
use riskrelay::queue::Queue;
use riskrelay::risk::{RiskDetail, RiskLevel, RiskState};
use riskrelay::source::poll::PollRequest;
use riskrelay::store::{self, Store};

use riskrelay_sim::testkit::hint;
use riskrelay_sim::testkit::{RecordingQueue, RecordingSink, TestApp};

#[tokio::test]
async fn each_role_builds_its_parts_from_what_it_is_given() {
    // Which parts a role has is a type fact (a tool has no poller field to ask for); what is
    // left to check at run time is what the adapters and settings give each.
    let t = TestApp::start().await;
    let queue: Arc<dyn Queue> = Arc::new(RecordingQueue::default());
    let poller = t.build::<PollerParts>(Some(queue.clone()));
    assert!(
        Arc::ptr_eq(&poller.queue, &queue),
        "the poller hands its work to the queue it was given"
    );
    assert!(
        poller.upkeep().is_err(),
        "no clientState configured: no subscription upkeep"
    );
    let store: Arc<dyn Store> = t.store.clone();
    let err = PollerParts::build(&t.settings, Adapters::new(store))
        .err()
        .expect("a poller without a queue is refused")
        .to_string();
    assert!(err.contains("needs a queue"), "{err}");

    // The service without a queue hands its work to its own worker in process.
    t.ok_sinks().await;
    let service = t.build::<ServiceParts>(None);
    let id = t.high_risk_user(72, "Inline User", "inline");
    service
        .queue
        .enqueue(vec![hint(&t, Subject::RiskyUser { user_id: id })])
        .await
        .unwrap();
    assert_eq!(
        t.posts().await,
        (1, 1),
        "the in-process queue ran the item through the service's worker to both destinations"
    );
}

#[tokio::test]
async fn a_missed_lifecycle_event_in_the_worker_asks_the_poller_and_polls_nothing() {
    let mut t = TestApp::start().await;
    let e = riskrelay::config::Env::default().with("RISKRELAY_CLIENT_STATE", "state-one");
    t.settings.client_states = Some(
        riskrelay::client_state::ClientStates::load(&riskrelay::config::EnvSecrets(&e)).unwrap(),
    );
    let queue = RecordingQueue::default();
    let worker = t.build::<WorkerParts>(Some(Arc::new(queue.clone())));
    let missed = WorkItem::Lifecycle(LifecycleEvent {
        tenant_id: t.sim.tenant_id(),
        subscription_id: SubscriptionId::parse(riskrelay_sim::testkit::SUBSCRIPTION).unwrap(),
        event: LifecycleKind::Missed,
        subscription_expires: None,
        received_at: time::OffsetDateTime::now_utc(),
    });
    let before = t.sim.requests().len();
    let report = worker.worker.process(&[missed]).await;
    assert!(report.results.iter().all(Result::is_ok), "{report:?}");
    assert_eq!(
        t.sim.requests().len(),
        before,
        "the worker made no Graph request: it did not poll"
    );
    assert!(queue.items().is_empty(), "the worker enqueued nothing");
    let request = store::load::<Option<PollRequest>>(
        t.store.as_ref() as &dyn Store,
        t.sim.tenant_id(),
        store::keys::POLL_REQUEST,
    )
    .await
    .unwrap()
    .unwrap()
    .value
    .expect("a poll request is recorded");
    assert!(request.reason.contains("missed"), "{request:?}");

    // The poller's next run answers it and clears it.
    let poller = t.build::<PollerParts>(Some(Arc::new(queue.clone())));
    let first = poller.poller.poll().await.unwrap();
    assert_eq!(first.requested, Some(request));
    let second = poller.poller.poll().await.unwrap();
    assert_eq!(second.requested, None);
}

#[tokio::test]
async fn a_sink_receives_the_key_kind_level_incident_and_whether_it_resolves() {
    let t = TestApp::start().await;
    t.ok_sinks().await;
    let sink = Arc::new(RecordingSink::default());
    let store: Arc<dyn Store> = t.store.clone();
    let mut adapters = Adapters::new(store);
    adapters.built_sinks.push(sink.clone());
    let app = WorkerParts::build(&t.settings, adapters).unwrap();
    let worker = app.worker.clone();
    let id = t.high_risk_user(71, "Paged User", "paged");
    worker
        .process(&[hint(&t, Subject::RiskyUser { user_id: id })])
        .await;
    t.sim.end_risk(
        id,
        RiskState::Remediated,
        RiskDetail::UserChangedPasswordOnPremises,
    );
    worker
        .process(&[hint(&t, Subject::RiskyUser { user_id: id })])
        .await;

    let got = sink.messages();
    assert_eq!(got.len(), 2, "{got:?}");
    let (opened, closed) = (&got[0].routing, &got[1].routing);
    assert_eq!(opened.kind, Some(AlertKind::NewRisk));
    assert_eq!(opened.level, Some(RiskLevel::High));
    assert!(!opened.resolves);
    assert_eq!(closed.kind, Some(AlertKind::Remediated));
    assert_eq!(
        closed.level,
        Some(RiskLevel::High),
        "routed at the level it ended from"
    );
    assert!(closed.resolves);
    assert_eq!(
        opened.incident, closed.incident,
        "one incident per user's risk episode"
    );
    let incident = opened.incident.as_deref().unwrap();
    let episode = incident
        .strip_prefix(&format!("user/{}/{id}/", t.sim.tenant_id()))
        .unwrap_or_else(|| panic!("{incident}"));
    assert!(
        episode.parse::<i64>().is_ok(),
        "the episode start closes the key: {incident}"
    );
    assert_ne!(opened.key, closed.key);
    assert_eq!(opened.tenant_id, t.sim.tenant_id());
    assert!(
        got[1].view.fallback.contains("Paged User"),
        "{:?}",
        got[1].view
    );
}
