//! The poll cycle: baseline, the checkpoint window, grouping, and failures that must not advance
//! the checkpoint.

use std::sync::Arc;

use riskrelay::observation::{Origin, Subject, WorkItem};
use riskrelay::queue::Queue;
use riskrelay::queue::sqs::SqsQueue;
use riskrelay::risk::{DetectionTimingType, RiskDetail, RiskLevel, RiskState};
use riskrelay::source::poll::{Checkpoint, Poller};
use riskrelay::store::memory::MemoryStore;
use riskrelay::store::{self, Store};
use riskrelay_sim::{DetectionSpec, SimConfig, SimUser, Simulator};
use time::OffsetDateTime;

use riskrelay_sim::testkit::uid;
use riskrelay_sim::testkit::{FailingQueue, RecordingQueue, aws_config, moto_endpoint};

fn poller(sim: &Simulator, store: Arc<dyn Store>, queue: Arc<dyn Queue>) -> Poller {
    Poller::new(
        sim.tenant_id(),
        crate::graph::client(&sim.graph_config()),
        store,
        queue,
        riskrelay::source::poll::DEFAULT_OVERLAP,
    )
}

async fn checkpoint(store: &dyn Store, sim: &Simulator) -> Option<OffsetDateTime> {
    store::load::<Checkpoint>(store, sim.tenant_id(), store::keys::CHECKPOINT)
        .await
        .unwrap()
        .map(|c| c.value.at)
}

#[tokio::test]
async fn first_cycle_is_a_baseline_then_changes_are_read_per_page() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let old = sim.add_user(SimUser::new(uid(1), "Old Risk", "old"));
    sim.set_risk(old, RiskLevel::High, RiskState::AtRisk, RiskDetail::None);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let q = RecordingQueue::default();
    let p = poller(&sim, store.clone(), Arc::new(q.clone()));

    let first = p.poll().await.unwrap();
    assert!(first.baseline);
    let items = q.items();
    assert_eq!(items.len(), 2, "one baseline observation and one summary");
    assert!(
        matches!(&items[0], WorkItem::Observation(o) if matches!(o.origin, Origin::Baseline { .. }))
    );
    assert!(matches!(&items[1], WorkItem::Notice { .. }));
    assert!(checkpoint(store.as_ref(), &sim).await.is_some());

    // A change: a new risky user with two detections, and a detection for a user whose risk
    // record did not change in the window.
    let new = sim.add_user(SimUser::new(uid(2), "New Risk", "new"));
    sim.add_detection(
        new,
        DetectionSpec::new(
            "unlikelyTravel",
            "signin",
            RiskLevel::High,
            DetectionTimingType::Offline,
        ),
    );
    sim.detect(
        new,
        DetectionSpec::new(
            "maliciousIPAddress",
            "signin",
            RiskLevel::High,
            DetectionTimingType::Offline,
        ),
    );
    let quiet = sim.add_user(SimUser::new(uid(3), "Quiet", "quiet"));
    sim.set_risk_at(
        quiet,
        RiskLevel::Low,
        RiskState::AtRisk,
        RiskDetail::None,
        OffsetDateTime::now_utc() - time::Duration::days(3),
    );
    sim.add_detection(
        quiet,
        DetectionSpec::new(
            "anonymizedIPAddress",
            "signin",
            RiskLevel::Low,
            DetectionTimingType::Realtime,
        ),
    );
    sim.clear_requests();
    let second = p.poll().await.unwrap();
    assert!(!second.baseline);
    assert_eq!(
        sim.requests()
            .iter()
            .filter(|r| r.is_identity_protection())
            .count(),
        2,
        "one page of users, one of detections"
    );
    let items = q.items()[2..].to_vec();
    let fetched: Vec<(String, usize)> = items
        .iter()
        .filter_map(|i| match i {
            WorkItem::Observation(o) => Some((
                format!("{:?}", o.subject),
                o.fetched
                    .as_ref()
                    .map_or(usize::MAX, |f| f.detections.len()),
            )),
            _ => None,
        })
        .collect();
    assert!(
        fetched.contains(&(format!("{:?}", Subject::RiskyUser { user_id: new }), 2)),
        "{fetched:?}"
    );
    assert!(
        fetched.contains(&(
            format!("{:?}", Subject::RiskyUser { user_id: quiet }),
            usize::MAX
        )),
        "the quiet user is read by the worker: {fetched:?}"
    );
}

/// A tenant past its first (baseline) cycle, and the checkpoint that cycle left.
async fn after_baseline() -> (Simulator, Arc<dyn Store>, OffsetDateTime) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    poller(&sim, store.clone(), Arc::new(RecordingQueue::default()))
        .poll()
        .await
        .unwrap();
    let before = checkpoint(store.as_ref(), &sim).await.unwrap();
    (sim, store, before)
}

#[tokio::test]
async fn a_failed_enqueue_leaves_the_checkpoint_where_it_was() {
    let (sim, store, before) = after_baseline().await;
    let id = sim.add_user(SimUser::new(uid(4), "U", "u"));
    sim.set_risk(id, RiskLevel::Medium, RiskState::AtRisk, RiskDetail::None);

    let err = poller(&sim, store.clone(), Arc::new(FailingQueue))
        .poll()
        .await
        .unwrap_err();
    assert!(
        err.is_retryable() && err.to_string().contains("checkpoint stays"),
        "{err}"
    );
    assert_eq!(checkpoint(store.as_ref(), &sim).await.unwrap(), before);

    // The next cycle re-reads the same window and delivers the change.
    let q = RecordingQueue::default();
    let again = poller(&sim, store.clone(), Arc::new(q.clone()))
        .poll()
        .await
        .unwrap();
    assert!(again.since.unwrap() <= before);
    let observed = q
        .items()
        .iter()
        .filter(|i| matches!(i, riskrelay::observation::WorkItem::Observation(_)))
        .count();
    assert_eq!(observed, 1);
    assert!(
        matches!(
            q.items().last(),
            Some(riskrelay::observation::WorkItem::LateDetections { .. })
        ),
        "the cycle's last item asks for its late reads"
    );
    assert!(checkpoint(store.as_ref(), &sim).await.unwrap() > before);
}

#[tokio::test]
async fn an_sqs_send_failure_in_the_poller_does_not_advance_the_checkpoint() {
    let (sim, store, before) = after_baseline().await;
    let id = sim.add_user(SimUser::new(uid(5), "U", "u"));
    sim.set_risk(id, RiskLevel::Medium, RiskState::AtRisk, RiskDetail::None);
    let sqs = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws_config().await),
        format!("{}/123456789012/no-such-queue", moto_endpoint()),
    );
    assert!(
        poller(&sim, store.clone(), Arc::new(sqs))
            .poll()
            .await
            .is_err()
    );
    assert_eq!(checkpoint(store.as_ref(), &sim).await.unwrap(), before);
}

#[tokio::test]
async fn a_graph_failure_leaves_the_checkpoint_too() {
    let (sim, store, before) = after_baseline().await;
    sim.fail(riskrelay_sim::Fault::status(
        "/identityProtection/riskDetections",
        503,
        20,
    ));
    let err = poller(&sim, store.clone(), Arc::new(RecordingQueue::default()))
        .poll()
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(checkpoint(store.as_ref(), &sim).await.unwrap(), before);
}

/// A window too large for one invocation is caught up across several: out of time, a cycle keeps
/// its checkpoint and the next takes on half the window; each that finishes moves the checkpoint
/// to the end of what it read, until one reaches the present. Every change is handed on once.
#[tokio::test]
async fn a_window_too_large_for_one_invocation_is_caught_up_across_several() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let now = OffsetDateTime::now_utc();
    for (n, minutes_ago) in [55, 45, 35, 25, 15, 5].into_iter().enumerate() {
        let id = sim.add_user(SimUser::new(uid(700 + n as u128), "Span", "span"));
        sim.set_risk_at(
            id,
            RiskLevel::High,
            RiskState::AtRisk,
            RiskDetail::None,
            now - time::Duration::minutes(minutes_ago),
        );
    }
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let start = now - time::Duration::minutes(60);
    store::save(
        store.as_ref(),
        sim.tenant_id(),
        store::keys::CHECKPOINT,
        &Checkpoint { at: start },
        None,
    )
    .await
    .unwrap();
    let q = RecordingQueue::default();
    let p = Poller::new(
        sim.tenant_id(),
        crate::graph::client(&sim.graph_config()),
        store.clone(),
        Arc::new(q.clone()),
        std::time::Duration::ZERO,
    );

    // An invocation already at its limit reads nothing and keeps the checkpoint.
    let err = p
        .poll_until(Some(tokio::time::Instant::now()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            riskrelay::source::poll::PollError::OutOfTime { minutes: 30 }
        ),
        "{err}"
    );
    assert_eq!(checkpoint(store.as_ref(), &sim).await, Some(start));
    assert!(q.items().is_empty());

    // The next takes on the first half hour, the one after the rest.
    let first = p.poll().await.unwrap();
    assert_eq!(first.users, 3, "the three changes of the first half hour");
    let cut = checkpoint(store.as_ref(), &sim).await.unwrap();
    assert_eq!(cut, start + time::Duration::minutes(30));
    let second = p.poll().await.unwrap();
    assert_eq!(second.users, 3);
    assert!(checkpoint(store.as_ref(), &sim).await.unwrap() > now);
    let mut seen: Vec<String> = q
        .items()
        .iter()
        .filter_map(|i| match i {
            WorkItem::Observation(o) => Some(format!("{:?}", o.subject)),
            _ => None,
        })
        .collect();
    seen.sort();
    let before = seen.len();
    seen.dedup();
    assert_eq!((before, seen.len()), (6, 6), "each change handed on once");
    // Caught up: the next cycle reads from the present again.
    let third = p.poll().await.unwrap();
    assert_eq!(third.users, 0);
}
