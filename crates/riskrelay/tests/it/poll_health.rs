//! The dead-man message: a tenant whose polls fail for longer than the threshold is announced
//! once, and its recovery once, however many cycles run and across a restart.

use std::sync::Arc;

use riskrelay::app::{Adapters, ServiceParts};
use riskrelay::clock::FixedClock;
use riskrelay::fleet::{Fleet, Job};
use riskrelay::store::Store;
use riskrelay::tenancy::Mode;
use riskrelay_sim::Fault;
use riskrelay_sim::testkit::{TestApp, fast_retry};
use time::{Duration, OffsetDateTime};

fn fleet(t: &TestApp, clock: &Arc<FixedClock>) -> Fleet<ServiceParts> {
    let store: Arc<dyn Store> = t.store.clone();
    let mut adapters = Adapters::new(store);
    adapters.clock = clock.clone();
    adapters.inline_retry.base_delay = std::time::Duration::from_millis(20);
    Fleet::<ServiceParts>::build(&t.settings, adapters, Mode::Config, 1)
        .unwrap()
        .delivering()
}

/// Slack's texts that contain `needle`.
async fn said(t: &TestApp, needle: &str) -> Vec<String> {
    t.slack
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .filter(|b| b.contains(needle))
        .collect()
}

/// Poll cycles every ten minutes for `cycles` cycles; whether each worked.
async fn cycles(fleet: &Fleet<ServiceParts>, clock: &FixedClock, cycles: usize) -> Vec<bool> {
    let mut worked = Vec::new();
    for _ in 0..cycles {
        clock.advance(Duration::minutes(10));
        let runs = fleet.each(Job::Poll(None)).await.unwrap();
        worked.push(runs.iter().all(|r| r.result.is_ok()));
    }
    worked
}

#[tokio::test]
async fn failing_polls_are_announced_once_and_their_end_once_across_cycles_and_a_restart() {
    let mut t = TestApp::start().await;
    t.ok_sinks().await;
    // One attempt per read, so that each failing cycle costs one paced request.
    t.settings.graph.retry = fast_retry(1);
    let clock = Arc::new(FixedClock::new(OffsetDateTime::now_utc()));
    let first = fleet(&t, &clock);
    assert_eq!(cycles(&first, &clock, 1).await, [true], "the baseline");

    t.sim
        .fail(Fault::status("/identityProtection/riskyUsers", 503, 1_000));
    assert_eq!(cycles(&first, &clock, 2).await, [false, false]);
    assert!(
        said(&t, "no successful poll").await.is_empty(),
        "twenty minutes of failures are below the 30-minute threshold"
    );
    cycles(&first, &clock, 4).await;
    let stale = said(&t, "no successful poll").await;
    assert_eq!(stale.len(), 1, "{stale:#?}");
    // Told at the first failing cycle 30 minutes into the failures; the last poll that worked
    // began ten minutes before the first failure.
    assert!(
        stale[0].contains("riskrelay: no successful poll for 40 minutes"),
        "{}",
        stale[0]
    );
    assert!(
        stale[0].matches("Graph answered 503").count() == 1,
        "the error is quoted once: {}",
        stale[0]
    );
    assert!(
        stale[0].contains(&t.sim.tenant_id().to_string()),
        "names the tenant"
    );
    assert!(stale[0].contains("Last error"), "{}", stale[0]);

    // A restart: new parts over the same store, still failing: nothing new.
    let second = fleet(&t, &clock);
    cycles(&second, &clock, 3).await;
    assert_eq!(said(&t, "no successful poll").await.len(), 1);
    assert!(said(&t, "polls succeed again").await.is_empty());

    t.sim.clear_faults();
    assert_eq!(cycles(&second, &clock, 3).await, [true, true, true]);
    let back = said(&t, "polls succeed again").await;
    assert_eq!(back.len(), 1, "{back:#?}");
    assert_eq!(said(&t, "no successful poll").await.len(), 1);
}
