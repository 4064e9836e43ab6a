//! Repeat coalescing: a stream of new detections for one user becomes one update, and every
//! detection reaches each destination in exactly one message.

use std::collections::BTreeMap;
use std::sync::Arc;

use riskrelay::app::{Adapters, Parts, ServiceParts, WorkerParts};
use riskrelay::clock::{Clock, FixedClock};
use riskrelay::observation::Subject;
use riskrelay::risk::{DetectionTimingType, RiskDetail, RiskLevel, RiskState};
use riskrelay::store::Store;
use riskrelay_sim::DetectionSpec;
use time::{Duration, OffsetDateTime};
use wiremock::{MockServer, ResponseTemplate};

use riskrelay_sim::testkit::{
    SIGNING_SECRET, TestApp, WEBHOOK_PATH, answer, received_json, webhook_sink,
};

/// (type, detection ids) of every event the receiver got, in order.
async fn events(server: &MockServer) -> Vec<(String, Vec<String>)> {
    received_json(server)
        .await
        .iter()
        .map(|e| {
            let ids = e["data"]["detections"]
                .as_array()
                .map(|ds| {
                    ds.iter()
                        .map(|d| d["id"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (e["type"].as_str().unwrap().to_string(), ids)
        })
        .collect()
}

/// A test tenant posting to a signed-webhook receiver (whose events carry detection ids), with a
/// 30-minute repeat window.
async fn coalescing_app() -> (TestApp, MockServer) {
    let mut t = TestApp::start().await;
    let server = MockServer::start().await;
    answer(
        &server,
        WEBHOOK_PATH,
        ResponseTemplate::new(204),
        None,
        None,
    )
    .await;
    t.settings.alerts.sinks = vec![webhook_sink(&server, RiskLevel::Low, SIGNING_SECRET)];
    t.settings.policy.repeat_window = Duration::minutes(30);
    (t, server)
}

#[tokio::test]
async fn five_bursts_in_one_window_become_one_update_and_every_detection_is_sent_once() {
    let (t, server) = coalescing_app().await;
    let clock = Arc::new(FixedClock::new(OffsetDateTime::now_utc()));
    t.save_posture(clock.now()).await;
    let store: Arc<dyn Store> = t.store.clone();
    let mut adapters = Adapters::new(store);
    adapters.clock = clock.clone();
    let app = ServiceParts::build(&t.settings, adapters).unwrap();
    let (worker, poller) = (app.worker, app.poller);

    let id = t.high_risk_user(50, "Burst User", "burst");
    let mut sent: Vec<String> = t.sim.detections_of(id).into_iter().map(|d| d.id).collect();
    let hint = riskrelay_sim::testkit::hint(&t, Subject::RiskyUser { user_id: id });
    worker.process(std::slice::from_ref(&hint)).await;
    assert_eq!(events(&server).await.len(), 1, "the new risk is posted");

    // Five bursts of two detections, five minutes apart: nothing is posted inside the window.
    let kinds = ["unfamiliarFeatures", "anonymizedIPAddress"];
    for _ in 0..5 {
        clock.advance(Duration::minutes(5));
        for kind in kinds {
            sent.push(t.sim.detect(
                id,
                DetectionSpec::new(
                    kind,
                    "signin",
                    RiskLevel::High,
                    DetectionTimingType::Realtime,
                ),
            ));
        }
        worker.process(std::slice::from_ref(&hint)).await;
    }
    assert_eq!(events(&server).await.len(), 1, "folded, not posted");
    assert_eq!(
        poller.hint_folded("c1", clock.now()).await.unwrap(),
        0,
        "not due yet"
    );

    // The window has passed: the next cycle's hint sends the ten as one update, once.
    clock.advance(Duration::minutes(6));
    assert_eq!(poller.hint_folded("c2", clock.now()).await.unwrap(), 1);
    assert_eq!(
        poller.hint_folded("c3", clock.now()).await.unwrap(),
        0,
        "off the list once sent"
    );
    let got = events(&server).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].0, "riskrelay.user.newDetections");
    assert_eq!(got[1].1.len(), 10);

    // A burst inside the new window, then a compromise: the burst goes out with it.
    clock.advance(Duration::minutes(9));
    for kind in kinds {
        sent.push(t.sim.detect(
            id,
            DetectionSpec::new(
                kind,
                "signin",
                RiskLevel::High,
                DetectionTimingType::Realtime,
            ),
        ));
    }
    worker.process(std::slice::from_ref(&hint)).await;
    assert_eq!(events(&server).await.len(), 2);
    clock.advance(Duration::minutes(5));
    t.sim.set_risk(
        id,
        RiskLevel::High,
        RiskState::ConfirmedCompromised,
        RiskDetail::AdminConfirmedUserCompromised,
    );
    worker.process(std::slice::from_ref(&hint)).await;
    let got = events(&server).await;
    assert_eq!(
        got.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        [
            "riskrelay.user.newRisk",
            "riskrelay.user.newDetections",
            "riskrelay.user.confirmedCompromised"
        ]
    );

    // Every detection in exactly one message.
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, ids) in &got {
        for i in ids {
            *times.entry(i.as_str()).or_default() += 1;
        }
    }
    assert_eq!(sent.len(), 13);
    for d in &sent {
        assert_eq!(times.get(d.as_str()), Some(&1), "{d}: {got:?}");
    }
    assert_eq!(times.len(), sent.len(), "no detection invented: {got:?}");
}

/// Coalescing turned off while detections are folded: the next look at the user sends them, and
/// the user leaves the list the poll cycle hints from.
#[tokio::test]
async fn turning_coalescing_off_sends_what_was_folded_and_empties_the_list() {
    let (mut t, server) = coalescing_app().await;
    t.save_posture(OffsetDateTime::now_utc()).await;
    let store: Arc<dyn Store> = t.store.clone();
    let build = |settings: &riskrelay::app::Settings| {
        WorkerParts::build(settings, Adapters::new(store.clone()))
            .unwrap()
            .worker
    };
    let id = t.high_risk_user(51, "Folded User", "folded");
    let hint = riskrelay_sim::testkit::hint(&t, Subject::RiskyUser { user_id: id });
    build(&t.settings)
        .process(std::slice::from_ref(&hint))
        .await;
    let folded = t.sim.detect(
        id,
        DetectionSpec::new(
            "unfamiliarFeatures",
            "signin",
            RiskLevel::High,
            DetectionTimingType::Realtime,
        ),
    );
    build(&t.settings)
        .process(std::slice::from_ref(&hint))
        .await;
    assert_eq!(events(&server).await.len(), 1, "folded");
    let listed = || async {
        store
            .get(t.sim.tenant_id(), riskrelay::store::keys::FOLDING)
            .await
            .unwrap()
            .map(|(v, _)| v["users"].as_array().map_or(0, Vec::len))
            .unwrap_or(0)
    };
    assert_eq!(listed().await, 1);

    t.settings.policy.repeat_window = Duration::ZERO;
    build(&t.settings)
        .process(std::slice::from_ref(&hint))
        .await;
    let got = events(&server).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].1, [folded]);
    assert_eq!(listed().await, 0, "off the list");
}
