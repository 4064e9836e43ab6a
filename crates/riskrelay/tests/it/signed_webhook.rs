//! The generic webhook sink: events that follow the published schema, signed as Standard Webhooks
//! specify — checked with the `standardwebhooks` reference library and `jsonschema` (Python, set
//! up by scripts/setup-tools.sh), never with riskrelay's own code.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use riskrelay::alert::{AlertKind, Change, Message};
use riskrelay::deliver::Delivery;
use riskrelay::observation::Subject;
use riskrelay::risk::{RiskDetail, RiskLevel, RiskState};
use riskrelay::sink;
use riskrelay::store::memory::MemoryStore;
use time::OffsetDateTime;
use wiremock::{MockServer, ResponseTemplate};

use riskrelay_sim::testkit::{
    LogCapture, OLD_SIGNING_SECRET, SIGNING_SECRET, WEBHOOK_PATH, answer, record_payload, samples,
    webhook_sink,
};

/// Runs the independent verifier over deliveries; true when it accepts all of them.
pub(crate) fn verified(secret: &str, files: &[PathBuf]) -> bool {
    let root = riskrelay_sim::testkit::repo_root();
    let out = Command::new(riskrelay_sim::testkit::tools_python())
        .arg(root.join("tools/validators/verify_webhooks.py"))
        .arg(secret)
        .args(files)
        .output()
        .unwrap();
    eprintln!(
        "verifier: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success()
}

/// Every request the server received, as a file the verifier reads (headers and exact body).
pub(crate) async fn deliveries(server: &MockServer, dir: &Path) -> Vec<PathBuf> {
    let requests = server.received_requests().await.unwrap();
    requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let headers: serde_json::Map<String, serde_json::Value> = r
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().into()))
                .collect();
            let path = dir.join(format!("delivery-{i}.json"));
            let body = String::from_utf8(r.body.clone()).unwrap();
            std::fs::write(
                &path,
                serde_json::json!({"headers": headers, "body": body}).to_string(),
            )
            .unwrap();
            path
        })
        .collect()
}

fn delivery(server: &MockServer, secrets: &str) -> Delivery {
    Delivery::new(
        Arc::new(MemoryStore::default()),
        sink::build(
            &[webhook_sink(server, RiskLevel::Low, secrets)],
            sink::Http {
                client: reqwest::Client::new(),
                timeout: Duration::from_secs(5),
            },
        ),
        AlertKind::ALL.into_iter().collect(),
        10,
    )
}

/// Every kind of message becomes one event (a digest none: this destination takes alerts one by
/// one), each valid against the schema and signed with both keys while a rotation is under way;
/// a receiver with another key, or a body changed on the way, is refused by the reference library.
#[tokio::test]
async fn every_event_follows_the_schema_and_verifies_with_the_reference_library() {
    let server = MockServer::start().await;
    answer(
        &server,
        WEBHOOK_PATH,
        ResponseTemplate::new(204),
        None,
        None,
    )
    .await;
    let messages: Vec<Message> = samples::every_kind().into_iter().map(|(_, m)| m).collect();
    let digests = messages
        .iter()
        .filter(|m| matches!(m, Message::Digest(_)))
        .count();
    let rotating = format!("{SIGNING_SECRET} {OLD_SIGNING_SECRET}");
    let report = delivery(&server, &rotating)
        .deliver(&messages, OffsetDateTime::now_utc())
        .await;
    assert!(report.failures.is_empty(), "{report:?}");
    let dir = tempfile::tempdir().unwrap();
    let files = deliveries(&server, dir.path()).await;
    assert_eq!(files.len(), messages.len() - digests);
    for r in server.received_requests().await.unwrap() {
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let name = body["data"]["key"].as_str().unwrap().to_string();
        record_payload("webhook", &name, &body);
        assert_eq!(
            r.headers["content-type"], "application/json",
            "{:?}",
            r.headers
        );
        // The payload's timestamp is when the change happened (Standard Webhooks), which the
        // samples put in the past; the header carries the send time.
        if body["type"]
            .as_str()
            .unwrap()
            .starts_with("riskrelay.user.")
        {
            assert_eq!(
                body["timestamp"], body["data"]["risk"]["lastUpdatedDateTime"],
                "{body}"
            );
            let sent: i64 = r.headers["webhook-timestamp"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let occurred = OffsetDateTime::parse(
                body["timestamp"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            assert!(occurred.unix_timestamp() < sent - 60, "{body}");
        }
    }

    assert!(verified(SIGNING_SECRET, &files), "the current key verifies");
    assert!(
        verified(OLD_SIGNING_SECRET, &files),
        "a receiver still on the old key verifies during the rotation"
    );
    assert!(
        !verified("whsec_QW5vdGhlclNlY3JldEtleUZvclRlc3Rpbmc=", &files),
        "another key is refused"
    );
    let mut tampered: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let body =
        tampered["body"]
            .as_str()
            .unwrap()
            .replacen("\"resolves\":false", "\"resolves\":true", 1);
    assert_ne!(tampered["body"].as_str().unwrap(), body);
    tampered["body"] = body.into();
    std::fs::write(&files[0], tampered.to_string()).unwrap();
    assert!(
        !verified(SIGNING_SECRET, &files[..1]),
        "a changed body is refused"
    );

    // A body outside the schema is refused even when correctly signed: the schema check can fail.
    let mut drifted: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
    let body =
        drifted["body"]
            .as_str()
            .unwrap()
            .replacen("\"schemaVersion\":1", "\"schemaVersion\":2", 1);
    let (id, ts) = (
        drifted["headers"]["webhook-id"]
            .as_str()
            .unwrap()
            .to_string(),
        drifted["headers"]["webhook-timestamp"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap(),
    );
    drifted["headers"]["webhook-signature"] = sink::webhook::SigningKeys::parse(SIGNING_SECRET)
        .unwrap()
        .sign(&id, ts, body.as_bytes())
        .into();
    drifted["body"] = body.into();
    std::fs::write(&files[1], drifted.to_string()).unwrap();
    assert!(
        !verified(SIGNING_SECRET, &files[1..2]),
        "schema version 2 is not version 1"
    );

    // After the rotation, only the new key signs: the old one no longer verifies.
    let after = MockServer::start().await;
    answer(&after, WEBHOOK_PATH, ResponseTemplate::new(204), None, None).await;
    delivery(&after, SIGNING_SECRET)
        .deliver(&messages[..1], OffsetDateTime::now_utc())
        .await;
    let dir = tempfile::tempdir().unwrap();
    let files = deliveries(&after, dir.path()).await;
    assert!(verified(SIGNING_SECRET, &files));
    assert!(!verified(OLD_SIGNING_SECRET, &files));
}

/// A retry carries the same `webhook-id` (the receiver can drop the duplicate), 5xx and 429 are
/// retried, a 4xx is not, and the URL never reaches the logs or the error.
#[tokio::test]
async fn retries_keep_the_message_id_and_a_refusal_is_not_retried() {
    let logs = LogCapture::start();
    let server = MockServer::start().await;
    answer(
        &server,
        WEBHOOK_PATH,
        ResponseTemplate::new(503),
        Some(1),
        None,
    )
    .await;
    answer(
        &server,
        WEBHOOK_PATH,
        ResponseTemplate::new(429).insert_header("retry-after", "1"),
        Some(1),
        None,
    )
    .await;
    answer(
        &server,
        WEBHOOK_PATH,
        ResponseTemplate::new(200),
        None,
        None,
    )
    .await;
    let message = Message::User(Box::new(samples::user_alert(Change::NewRisk, "Ada")));
    let report = delivery(&server, SIGNING_SECRET)
        .deliver(std::slice::from_ref(&message), OffsetDateTime::now_utc())
        .await;
    assert!(report.failures.is_empty(), "{report:?}");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let ids: Vec<&str> = requests
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(ids[0], sink::webhook::message_id("siem", message.key()));

    let refusing = MockServer::start().await;
    answer(
        &refusing,
        WEBHOOK_PATH,
        ResponseTemplate::new(400).set_body_string("unknown event type"),
        None,
        None,
    )
    .await;
    let report = delivery(&refusing, SIGNING_SECRET)
        .deliver(&[message], OffsetDateTime::now_utc())
        .await;
    assert_eq!(refusing.received_requests().await.unwrap().len(), 1);
    let error = report.failures[0].error.to_string();
    assert!(
        error.contains("400") && error.contains("not retried"),
        "{error}"
    );
    let text = format!("{} {error}", logs.text());
    for url in [server.uri(), refusing.uri()] {
        assert!(!text.contains(&url), "{text}");
    }
    assert!(!text.contains("Kb7Vq2m9"), "the secret leaked: {text}");
}

/// A user's risk from start to end: the events share the incident, the last one resolves it, and
/// each carries the detections and the verdict a receiver needs.
#[tokio::test]
async fn a_risk_episode_is_opened_and_resolved_under_one_incident() {
    let mut t = riskrelay_sim::testkit::TestApp::start().await;
    let server = MockServer::start().await;
    answer(
        &server,
        WEBHOOK_PATH,
        ResponseTemplate::new(202),
        None,
        None,
    )
    .await;
    t.settings.alerts.sinks = vec![webhook_sink(&server, RiskLevel::Low, SIGNING_SECRET)];
    t.save_posture(OffsetDateTime::now_utc()).await;
    let worker = t.worker();
    let id = t.high_risk_user(7, "Grace Hopper", "grace");
    let hint = riskrelay_sim::testkit::hint(&t, Subject::RiskyUser { user_id: id });
    worker.process(std::slice::from_ref(&hint)).await;
    t.sim.end_risk(
        id,
        RiskState::Remediated,
        RiskDetail::UserPerformedSecuredPasswordChange,
    );
    worker.process(&[hint]).await;

    let events = riskrelay_sim::testkit::received_json(&server).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["riskrelay.user.newRisk", "riskrelay.user.remediated"]
    );
    let (open, close) = (&events[0]["data"], &events[1]["data"]);
    assert_eq!(open["user"]["id"], id.to_string());
    assert_eq!(open["user"]["userPrincipalName"], "grace@contoso.com");
    assert_eq!(open["risk"]["level"], "high");
    assert!(open["detections"].as_array().is_some_and(|d| !d.is_empty()));
    assert!(open["verdict"]["outcome"].is_string(), "{open:#}");
    assert_eq!(
        (open["resolves"].as_bool(), &open["resolvesKey"]),
        (Some(false), &serde_json::Value::Null)
    );
    assert_eq!(close["resolves"], true);
    assert_eq!(close["resolvesKey"], open["incident"]);
    assert_eq!(close["risk"]["previousLevel"], "high");
    assert!(close["verdict"].is_null());
    let dir = tempfile::tempdir().unwrap();
    assert!(verified(
        SIGNING_SECRET,
        &deliveries(&server, dir.path()).await
    ));
}
