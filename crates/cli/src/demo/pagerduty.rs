//! Chapter 8: an on-call page opened at high, updated when the risk is lowered and resolved when
//! it ends, against a fake PagerDuty Events API on loopback.

use anyhow::Context as _;
use riskrelay::app::{Adapters, Parts, ServiceParts, Settings};
use riskrelay::risk::{DetectionTimingType, RiskDetail, RiskLevel, RiskState};
use riskrelay::sink::config::{SinkConfig, SinkKind};
use riskrelay::store::memory::MemoryStore;
use riskrelay_sim::{DetectionSpec, SimUser};
use secrecy::SecretString;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

/// PagerDuty's Events API v2 on loopback, for the PagerDuty chapter: it answers as PagerDuty does
/// (202 with the dedup key) and keeps every event it is sent.
#[derive(Default)]
struct FakePagerDuty {
    events: Mutex<Vec<serde_json::Value>>,
}

#[async_trait::async_trait]
impl riskrelay::server::HttpApp for FakePagerDuty {
    async fn handle(&self, req: http::Request<bytes::Bytes>) -> http::Response<bytes::Bytes> {
        let event: serde_json::Value = serde_json::from_slice(req.body()).unwrap_or_default();
        let answer = serde_json::json!({
            "status": "success",
            "message": "Event processed",
            "dedup_key": event["dedup_key"],
        });
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
        let mut res = http::Response::new(bytes::Bytes::from(answer.to_string()));
        *res.status_mut() = http::StatusCode::ACCEPTED;
        res
    }
}

/// Routing keys are 32 letters and digits; this one reaches only the demo's own fake.
const DEMO_ROUTING_KEY: &str = "DEM0R0UT1NGKEYF0RTHEL0CALFAKE000";

/// The PagerDuty chapter: an on-call service paged for high risk only, one user's episode
/// opened at high, lowered to medium and ended, through the real PagerDuty sink against a fake
/// Events API on loopback. Its events are written to `out/pagerduty/`.
pub(super) async fn pagerduty_chapter(
    demo: &Demo,
    settings: &Settings,
    store: Arc<MemoryStore>,
    sinks: Vec<Arc<dyn riskrelay::sink::Sink>>,
    out: &std::path::Path,
    print: bool,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let fake = Arc::new(FakePagerDuty::default());
    let listener = riskrelay::server::bind(([127, 0, 0, 1], 0).into()).await?;
    let url = format!("http://{}/v2/enqueue", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(riskrelay::server::serve(listener, fake.clone(), async {
        let _ = stopped.await;
    }));
    let mut settings = settings.clone();
    settings.alerts.sinks.push(SinkConfig {
        name: "oncall".into(),
        kind: SinkKind::PagerDuty,
        url: SecretString::from(url),
        min_level: RiskLevel::High,
        key: Some(SecretString::from(DEMO_ROUTING_KEY)),
    });
    let mut adapters = Adapters::new(store);
    adapters.inline_retry.base_delay = Duration::from_millis(200);
    adapters.built_sinks = sinks;
    let app = ServiceParts::build(&settings, adapters)?;
    let poll = || async { app.poller.poll().await.context("poll cycle") };
    let sim = &demo.sim;
    let nestor = sim.add_user(
        SimUser::new(
            riskrelay_sim::scenario::user_id(310),
            "Nestor Wilke",
            "nestorw",
        )
        .synced()
        .with_job("Operations", "Director"),
    );
    sim.detect(
        nestor,
        DetectionSpec::new(
            "anonymizedIPAddress",
            "signin",
            RiskLevel::High,
            DetectionTimingType::Realtime,
        )
        .from_ip("185.220.101.7", "Frankfurt", "DE"),
    );
    poll().await?;
    sim.set_risk(
        nestor,
        RiskLevel::Medium,
        RiskState::AtRisk,
        RiskDetail::None,
    );
    poll().await?;
    sim.end_risk(
        nestor,
        RiskState::Remediated,
        RiskDetail::UserPerformedSecuredPasswordChange,
    );
    poll().await?;
    let _ = stop.send(());
    let _ = server.await;

    let events = fake.events.lock().map(|e| e.clone()).unwrap_or_default();
    let dir = out.join("pagerduty");
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    for (i, e) in events.iter().enumerate() {
        let action = e["event_action"].as_str().unwrap_or("event");
        let file = dir.join(format!("{:02}-{action}.json", i + 1));
        std::fs::write(&file, serde_json::to_vec_pretty(e)?)
            .with_context(|| format!("could not write {}", file.display()))?;
        if print {
            println!(
                "PagerDuty received: {action}{} · dedup_key {}",
                e["payload"]["severity"]
                    .as_str()
                    .map(|s| format!(" · severity {s}"))
                    .unwrap_or_default(),
                e["dedup_key"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(events)
}
