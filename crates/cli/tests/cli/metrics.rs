//! `GET /metrics` of `riskrelay run`, read by the Prometheus project's own Python parser: the
//! figures equal what the process did.

use std::time::Duration;

use riskrelay_sim::SimConfig;

use crate::run::{Watched, against, bodies, command, free_port, logs, user_alerts, watched};

/// Every sample of a /metrics text, as the `prometheus_client` parser reads it.
fn parsed(text: &str) -> Vec<serde_json::Value> {
    let root = riskrelay_sim::testkit::repo_root();
    let python = root.join(".tools/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-tools.sh",
        python.display()
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let out = std::process::Command::new(python)
        .arg(root.join("tools/metrics/parse_openmetrics.py"))
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the parser refused the text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The sum of the samples named `name` whose labels include `labels`.
fn sum(samples: &[serde_json::Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s["name"] == name)
        .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .map(|s| s["value"].as_f64().unwrap())
        .sum()
}

#[tokio::test]
async fn metrics_after_a_cycle_count_what_was_delivered_and_read_as_openmetrics() {
    let Watched {
        _dir,
        db,
        sim,
        slack,
    } = watched(SimConfig::default(), 3).await;
    let before = slack.received_requests().await.unwrap().len();
    let port = free_port();
    let mut service = command(&db, &slack);
    against(&mut service, &sim);
    service.env("RISKRELAY_LISTEN", format!("127.0.0.1:{port}"));
    let _child = service.spawn().unwrap();
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");

    // The first cycle runs at start: wait until it is counted, its three alerts posted.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let samples = loop {
        if let Ok(res) = http.get(&url).send().await
            && res.status() == 200
        {
            let text = res.text().await.unwrap();
            let samples = parsed(&text);
            if sum(&samples, "riskrelay_poll_cycles_total", &[("result", "ok")]) >= 1.0 {
                break samples;
            }
        }
        assert!(std::time::Instant::now() < deadline, "{}", logs(&db));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let posted = slack.received_requests().await.unwrap().len() - before;
    assert_eq!(
        user_alerts(&bodies(&slack).await[before..]).len(),
        3,
        "the cycle posted the three alerts"
    );
    assert_eq!(
        sum(
            &samples,
            "riskrelay_alerts_total",
            &[("outcome", "delivered")]
        ),
        posted as f64,
        "delivered equals what Slack received: {samples:#?}"
    );
    assert_eq!(
        sum(&samples, "riskrelay_alerts_total", &[("outcome", "failed")]),
        0.0
    );
    let tenant = sim.tenant_id().to_string();
    let last = sum(
        &samples,
        "riskrelay_last_successful_poll_timestamp_seconds",
        &[("tenant", &tenant)],
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    assert!(
        (now - 120.0..=now + 1.0).contains(&last),
        "last success {last}, now {now}"
    );
    assert!(
        sum(
            &samples,
            "riskrelay_graph_requests_total",
            &[("budget", "identity_protection")]
        ) >= 2.0,
        "the cycle read risky users and detections"
    );
    assert_eq!(
        sum(&samples, "riskrelay_poll_cycle_duration_seconds_count", &[]),
        sum(&samples, "riskrelay_poll_cycles_total", &[]),
        "every cycle is timed"
    );
    // No user data in any label: no name, no UPN.
    for s in &samples {
        let labels = s["labels"].to_string();
        assert!(
            !labels.contains("Kill Test") && !labels.contains('@'),
            "{labels}"
        );
    }
}
