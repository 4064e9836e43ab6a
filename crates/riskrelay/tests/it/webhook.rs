//! The webhook, through the Lambda Function URL path (fixtures in `events/`) and through the local
//! HTTP server, with the same expectations for both.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use riskrelay::config::Env;
use riskrelay::notification::LifecycleKind;
use riskrelay::observation::{Subject, WorkItem};
use riskrelay::queue::Queue;
use riskrelay::source::webhook::{Webhook, from_lambda, to_lambda};
use serde_json::json;

use riskrelay_sim::testkit::*;

/// A request as both paths see it.
struct Req {
    method: String,
    path: String,
    query: String,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Req {
    fn post(path: &str, query: &str, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: "POST".into(),
            path: path.into(),
            query: query.into(),
            content_type: content_type.map(str::to_string),
            body: body.into(),
        }
    }

    fn notifications(value: serde_json::Value) -> Self {
        Self::post(
            "/notifications",
            "",
            Some("application/json"),
            value.to_string(),
        )
    }

    /// As a Function URL event (API Gateway v2 payload), like the fixtures in `events/`.
    fn to_event(&self) -> serde_json::Value {
        let mut headers = json!({"host": "abcdefghijklmnop.lambda-url.us-east-1.on.aws"});
        if let Some(ct) = &self.content_type {
            headers["content-type"] = json!(ct);
        }
        let binary = std::str::from_utf8(&self.body).is_err();
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": self.path, "rawQueryString": self.query,
            "headers": headers,
            "requestContext": {
                "accountId": "anonymous", "apiId": "abcdefghijklmnop",
                "domainName": "abcdefghijklmnop.lambda-url.us-east-1.on.aws", "domainPrefix": "abcdefghijklmnop",
                "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1", "sourceIp": "52.159.23.209", "userAgent": "test"},
                "requestId": "r1", "routeKey": "$default", "stage": "$default", "time": "25/Nov/2026:10:00:00 +0000", "timeEpoch": 1795600800000u64
            },
            "body": if binary { base64::engine::general_purpose::STANDARD.encode(&self.body) } else { String::from_utf8(self.body.clone()).unwrap() },
            "isBase64Encoded": binary,
        })
    }

    /// Reads a fixture from `events/`.
    fn fixture(name: &str) -> Self {
        let raw = std::fs::read_to_string(
            riskrelay_sim::testkit::repo_root().join(format!("events/{name}.json")),
        )
        .unwrap();
        let ev: serde_json::Value = serde_json::from_str(&raw).unwrap();
        let body = match ev.get("body").and_then(|b| b.as_str()) {
            None => Vec::new(),
            Some(b) if ev["isBase64Encoded"] == json!(true) => {
                base64::engine::general_purpose::STANDARD.decode(b).unwrap()
            }
            Some(b) => b.as_bytes().to_vec(),
        };
        Self {
            method: ev["requestContext"]["http"]["method"]
                .as_str()
                .unwrap()
                .into(),
            path: ev["rawPath"].as_str().unwrap().into(),
            query: ev["rawQueryString"].as_str().unwrap_or("").into(),
            content_type: ev["headers"]
                .get("content-type")
                .and_then(|c| c.as_str())
                .map(str::to_string),
            body,
        }
    }
}

#[derive(Debug)]
struct Res {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Res {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Clone, Copy, Debug)]
enum Via {
    Lambda,
    Http,
}

const BOTH: [Via; 2] = [Via::Lambda, Via::Http];

async fn call(via: Via, app: Arc<Webhook>, req: &Req) -> Res {
    match via {
        Via::Lambda => {
            let event = req.to_event().to_string();
            let lambda_req =
                lambda_http::request::from_str(&event).expect("a valid Function URL event");
            let res = to_lambda(app.handle(from_lambda(lambda_req)).await);
            let status = res.status().as_u16();
            let content_type = res
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            let body = match res.into_body() {
                lambda_http::Body::Empty => Vec::new(),
                lambda_http::Body::Text(t) => t.into_bytes(),
                lambda_http::Body::Binary(b) => b,
                _ => Vec::new(),
            };
            Res {
                status,
                content_type,
                body,
            }
        }
        Via::Http => {
            let listener = riskrelay::server::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap())
                .await
                .unwrap();
            let addr = listener.local_addr().unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(riskrelay::server::serve(listener, app, async {
                let _ = stopped.await;
            }));
            let url = if req.query.is_empty() {
                format!("http://{addr}{}", req.path)
            } else {
                format!("http://{addr}{}?{}", req.path, req.query)
            };
            let mut builder = reqwest::Client::new()
                .request(req.method.parse().unwrap(), url)
                .body(req.body.clone());
            if let Some(ct) = &req.content_type {
                builder = builder.header("content-type", ct);
            }
            let res = builder.send().await.unwrap();
            let out = Res {
                status: res.status().as_u16(),
                content_type: res
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string()),
                body: res.bytes().await.unwrap().to_vec(),
            };
            let _ = stop.send(());
            server.await.unwrap();
            out
        }
    }
}

fn app_with(env: &Env, queue: Arc<dyn Queue>) -> Arc<Webhook> {
    Arc::new(Webhook::new(&webhook_config(env), queue))
}

fn recording() -> (Arc<Webhook>, RecordingQueue) {
    let q = RecordingQueue::default();
    (app_with(&webhook_env(), Arc::new(q.clone())), q)
}

fn users(items: &[WorkItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            WorkItem::Observation(o) => match &o.subject {
                Subject::User { user_id } | Subject::RiskyUser { user_id } => {
                    Some(user_id.to_string())
                }
                Subject::SecurityAlert { alert_id } => Some(format!("alert:{alert_id}")),
            },
            WorkItem::Lifecycle(_)
            | WorkItem::Notice { .. }
            | WorkItem::Workload(_)
            | WorkItem::Summary { .. }
            | WorkItem::LateDetections { .. } => None,
        })
        .collect()
}

fn assert_never_html(res: &Res) {
    if let Some(ct) = &res.content_type {
        assert!(!ct.contains("html"), "content type {ct}");
    }
}

fn item(resource: &str, client_state: Option<&str>, tenant: &str) -> serde_json::Value {
    let mut v = json!({
        "subscriptionId": SUBSCRIPTION, "changeType": "updated", "resource": resource, "tenantId": tenant,
        "subscriptionExpirationDateTime": "2026-12-20T10:00:00.0000000+00:00",
    });
    if let Some(cs) = client_state {
        v["clientState"] = json!(cs);
    }
    v
}

#[tokio::test]
async fn validation_echoes_the_decoded_token_as_plain_text() {
    for via in BOTH {
        let (app, q) = recording();
        let res = call(via, app.clone(), &Req::fixture("furl-validation")).await;
        assert_eq!(res.status, 200, "{via:?}");
        assert!(
            res.content_type
                .as_deref()
                .unwrap()
                .starts_with("text/plain"),
            "{via:?}"
        );
        assert_eq!(
            res.text(),
            "Validation: Testing client application reachability for subscription Request-Id: 25f9bd2d-8a3b-4c2d-9e1f-0a1b2c3d4e5f"
        );

        let res = call(via, app.clone(), &Req::fixture("furl-validation-special")).await;
        assert_eq!(
            (res.status, res.text().as_str()),
            (200, "a+b%c <d>&e=f"),
            "{via:?}"
        );
        assert!(
            res.content_type
                .as_deref()
                .unwrap()
                .starts_with("text/plain")
        );

        // A token in the handshake with a body: only the echo, the body is never enqueued.
        let body = json!({"value": [item(&format!("Users/{USER_1}"), Some(CLIENT_STATE), TENANT)]})
            .to_string();
        let res = call(
            via,
            app,
            &Req::post(
                "/notifications",
                "validationToken=%3Cscript%3E",
                Some("application/json"),
                body,
            ),
        )
        .await;
        assert_eq!((res.status, res.text().as_str()), (200, "<script>"));
        assert_never_html(&res);
        assert!(q.items().is_empty(), "{via:?}: handshake body was enqueued");
    }
}

#[tokio::test]
async fn empty_or_oversized_validation_token_is_refused_and_not_reflected() {
    for via in BOTH {
        let (app, _) = recording();
        let res = call(via, app.clone(), &Req::fixture("furl-validation-empty")).await;
        assert_eq!(res.status, 400, "{via:?}");
        assert_never_html(&res);

        let token = "<b>".repeat(1400); // 4,200 bytes once decoded
        let query = format!(
            "validationToken={}",
            form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        );
        let res = call(
            via,
            app,
            &Req::post("/notifications", &query, Some("text/plain"), ""),
        )
        .await;
        assert_eq!(res.status, 400, "{via:?}");
        assert!(!res.text().contains("<b>"));
        assert_never_html(&res);
    }
}

#[tokio::test]
async fn valid_notifications_become_observations() {
    for via in BOTH {
        let (app, q) = recording();
        let res = call(via, app.clone(), &Req::fixture("furl-notifications")).await;
        assert_eq!(res.status, 202, "{via:?} {}", res.text());
        assert_eq!(users(&q.items()), vec![USER_1, USER_2]);
        let WorkItem::Observation(o) = &q.items()[0] else {
            panic!("not an observation")
        };
        assert_eq!(o.tenant_id.to_string(), TENANT);
        assert!(o.fetched.is_none());

        let (app, q) = recording();
        let res = call(via, app, &Req::fixture("furl-notifications-base64")).await;
        assert_eq!(res.status, 202, "{via:?}");
        assert_eq!(users(&q.items()), vec![USER_1]);
    }
}

#[tokio::test]
async fn lifecycle_events_are_enqueued_for_subscription_upkeep() {
    for via in BOTH {
        let (app, q) = recording();
        let res = call(via, app, &Req::fixture("furl-lifecycle")).await;
        assert_eq!(res.status, 202, "{via:?}");
        let events: Vec<LifecycleKind> = q
            .items()
            .into_iter()
            .filter_map(|i| match i {
                WorkItem::Lifecycle(l) => Some(l.event),
                _ => None,
            })
            .collect();
        assert_eq!(
            events,
            vec![
                LifecycleKind::ReauthorizationRequired,
                LifecycleKind::Missed,
                LifecycleKind::SubscriptionRemoved,
                LifecycleKind::Unknown("somethingNew".into())
            ]
        );
    }
}

#[tokio::test]
async fn lifecycle_events_are_authenticated_too() {
    let (app, q) = recording();
    let body = json!({"value": [{"subscriptionId": SUBSCRIPTION, "tenantId": TENANT, "clientState": "nope", "lifecycleEvent": "subscriptionRemoved"}]});
    let res = call(
        Via::Lambda,
        app,
        &Req::post("/lifecycle", "", Some("application/json"), body.to_string()),
    )
    .await;
    assert_eq!(res.status, 202);
    assert!(q.items().is_empty());
}

#[tokio::test]
async fn wrong_client_state_is_dropped_and_logged_without_the_secret() {
    for via in BOTH {
        let logs = LogCapture::start();
        let (app, q) = recording();
        let res = call(via, app, &Req::fixture("furl-wrong-client-state")).await;
        // Silent drop: the sender learns nothing about whether a forgery was close.
        assert_eq!(res.status, 202, "{via:?}");
        assert!(q.items().is_empty(), "{via:?}");
        let text = logs.text();
        if matches!(via, Via::Lambda) {
            // The HTTP path logs on the server task, outside this thread's capture.
            assert!(text.contains("clientState mismatch"), "{text}");
        }
        assert!(
            !text.contains(CLIENT_STATE) && !text.contains("riskrelay-test-client-stat"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn missing_empty_and_near_miss_client_states_are_rejected() {
    let near_misses: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some(format!("{CLIENT_STATE} ")),
        Some(CLIENT_STATE[..CLIENT_STATE.len() - 1].to_string()),
        Some(CLIENT_STATE.to_uppercase()),
        Some(CLIENT_STATE.replace('e', "е")), // Cyrillic е
    ];
    for cs in near_misses {
        let (app, q) = recording();
        let mut body = json!({"value": [item(&format!("Users/{USER_1}"), cs.as_deref(), TENANT)]});
        if cs.is_none() {
            body["value"][0]["clientState"] = serde_json::Value::Null;
        }
        let res = call(Via::Lambda, app, &Req::notifications(body)).await;
        assert_eq!(res.status, 202);
        assert!(q.items().is_empty(), "{cs:?} was accepted");
    }
}

#[tokio::test]
async fn rotation_window_accepts_previous_value_until_it_is_removed() {
    let body =
        json!({"value": [item(&format!("Users/{USER_1}"), Some(CLIENT_STATE_PREVIOUS), TENANT)]});

    let (app, q) = recording();
    call(Via::Lambda, app, &Req::notifications(body.clone())).await;
    assert_eq!(
        users(&q.items()),
        vec![USER_1],
        "previous value refused during rotation"
    );

    let env = Env::default()
        .with("RISKRELAY_TENANT_ID", TENANT)
        .with("RISKRELAY_CLIENT_STATE", CLIENT_STATE);
    let q = RecordingQueue::default();
    let res = call(
        Via::Lambda,
        app_with(&env, Arc::new(q.clone())),
        &Req::notifications(body),
    )
    .await;
    assert_eq!(res.status, 202);
    assert!(
        q.items().is_empty(),
        "previous value accepted after rotation ended"
    );
}

#[tokio::test]
async fn wrong_tenant_is_rejected() {
    let (app, q) = recording();
    let other = "99999999-8888-7777-6666-555555555555";
    let body = json!({"value": [item(&format!("Users/{USER_1}"), Some(CLIENT_STATE), other)]});
    call(Via::Lambda, app, &Req::notifications(body)).await;
    assert!(q.items().is_empty());
}

#[tokio::test]
async fn mixed_batch_processes_only_valid_items() {
    for via in BOTH {
        let (app, q) = recording();
        let res = call(via, app, &Req::fixture("furl-mixed-batch")).await;
        assert_eq!(res.status, 202, "{via:?}");
        // Valid: USER_1 (updated) and USER_2 with an unknown changeType. Refused: a guessed
        // clientState, another tenant, a hostile path, no clientState, a non-object item.
        assert_eq!(users(&q.items()), vec![USER_1, USER_2], "{via:?}");
    }
}

#[tokio::test]
async fn unsupported_and_hostile_resources_are_acknowledged_but_not_enqueued() {
    let resources = [
        format!("users/../../admin/{USER_1}"),
        format!("https://evil.example/users/{USER_1}"),
        format!("//evil.example/users/{USER_1}"),
        format!("users/{USER_1}?$expand=manager"),
        format!("groups/{USER_1}"),
        "users/not-a-guid".to_string(),
        "me/messages".to_string(),
    ];
    let items: Vec<_> = resources
        .iter()
        .map(|r| item(r, Some(CLIENT_STATE), TENANT))
        .collect();
    for via in BOTH {
        let (app, q) = recording();
        let res = call(via, app, &Req::notifications(json!({"value": items}))).await;
        assert_eq!(res.status, 202, "{via:?}");
        assert!(q.items().is_empty(), "{via:?}: {:?}", q.items());
    }
    // A legacy IPC alert path is supported and carries the alert id.
    let (app, q) = recording();
    let body = json!({"value": [item("security/alerts/2517343765581040000_-1234", Some(CLIENT_STATE), TENANT)]});
    call(Via::Http, app, &Req::notifications(body)).await;
    assert_eq!(users(&q.items()), vec!["alert:2517343765581040000_-1234"]);
}

#[tokio::test]
async fn malformed_bodies_get_4xx_and_never_panic() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!("{{\"value\":{}{}}}", "[".repeat(5_000), "]".repeat(5_000));
    let cases: Vec<(Req, u16)> = vec![
        (Req::fixture("furl-malformed"), 400),
        (Req::fixture("furl-wrong-content-type"), 415),
        (
            Req::post("/notifications", "", Some("application/json"), deep),
            400,
        ),
        (
            Req::post("/notifications", "", Some("application/json"), deep_object),
            400,
        ),
        (
            Req::post("/notifications", "", Some("application/json"), ""),
            400,
        ),
        (
            Req::post(
                "/notifications",
                "",
                Some("application/json"),
                "{\"value\":{}}",
            ),
            400,
        ),
        (
            Req::post("/notifications", "", Some("application/json"), "[]"),
            400,
        ),
        (
            Req::post(
                "/notifications",
                "",
                Some("application/json"),
                vec![0xff, 0xfe, b'{'],
            ),
            400,
        ),
        (
            Req::post("/notifications", "", Some("text/html"), "{\"value\":[]}"),
            415,
        ),
    ];
    for via in BOTH {
        for (req, status) in &cases {
            let (app, q) = recording();
            let res = call(via, app, req).await;
            assert_eq!(
                res.status,
                *status,
                "{via:?} {:?}",
                String::from_utf8_lossy(&req.body[..req.body.len().min(40)])
            );
            assert!(q.items().is_empty());
            assert_never_html(&res);
            assert!(
                res.text().len() < 64 && res.text().starts_with("{\"error\":"),
                "{}",
                res.text()
            );
        }
    }
}

#[tokio::test]
async fn oversized_bodies_and_batches_get_413_before_parsing() {
    let big = format!("{{\"value\":[],\"pad\":\"{}\"}}", "x".repeat(1024 * 1024));
    let many: Vec<_> = (0..1001).map(|_| json!({})).collect();
    for via in BOTH {
        let (app, q) = recording();
        let res = call(
            via,
            app.clone(),
            &Req::post("/notifications", "", Some("application/json"), big.clone()),
        )
        .await;
        assert_eq!(res.status, 413, "{via:?}");
        let res = call(via, app, &Req::notifications(json!({"value": many}))).await;
        assert_eq!(res.status, 413, "{via:?}");
        assert!(q.items().is_empty());
    }
}

#[tokio::test]
async fn a_failing_queue_answers_503_without_internal_detail() {
    for via in BOTH {
        let app = app_with(&webhook_env(), Arc::new(FailingQueue));
        let res = call(via, app, &Req::fixture("furl-notifications")).await;
        assert_eq!(res.status, 503, "{via:?}");
        assert!(
            !res.text().contains("internal detail") && !res.text().contains("ServiceUnavailable"),
            "{}",
            res.text()
        );
    }
    // Nothing to enqueue means nothing can fail: a batch of only rejected items is still a 202.
    let app = app_with(&webhook_env(), Arc::new(FailingQueue));
    let res = call(Via::Lambda, app, &Req::fixture("furl-wrong-client-state")).await;
    assert_eq!(res.status, 202);
}

/// Unauthenticated input cannot make the log grow without bound: a request of 1,000 forged items
/// is one line (counts by reason), and a queue refusing work is said once, not per 503.
#[tokio::test]
async fn a_thousand_rejected_items_are_one_log_line_and_a_full_queue_is_said_once() {
    let logs = LogCapture::start();
    let (app, q) = recording();
    let forged: Vec<serde_json::Value> = (0..1000)
        .map(|_| {
            item(
                &format!("Users/{USER_1}"),
                Some("not-the-client-state"),
                TENANT,
            )
        })
        .collect();
    let req = Req::notifications(json!({ "value": forged }));
    let res = call(Via::Lambda, app, &req).await;
    assert_eq!(res.status, 202);
    assert!(q.items().is_empty());
    let text = logs.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("notification"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("rejected=1000") && lines[0].contains("clientState mismatch: 1000"),
        "{}",
        lines[0]
    );

    let app = app_with(&webhook_env(), Arc::new(FailingQueue));
    for _ in 0..50 {
        let res = call(
            Via::Lambda,
            app.clone(),
            &Req::fixture("furl-notifications"),
        )
        .await;
        assert_eq!(res.status, 503);
    }
    let refused = logs
        .text()
        .lines()
        .filter(|l| l.contains("could not enqueue"))
        .count();
    assert!(refused <= 1, "{refused} lines for 50 refusals");
}

#[tokio::test]
async fn routes_methods_and_health() {
    for via in BOTH {
        let (app, _) = recording();
        let mut get = Req::fixture("furl-notifications");
        get.method = "GET".into();
        assert_eq!(call(via, app.clone(), &get).await.status, 405, "{via:?}");
        let mut other = Req::fixture("furl-notifications");
        other.path = "/admin".into();
        assert_eq!(call(via, app.clone(), &other).await.status, 404, "{via:?}");
        let health = Req {
            method: "GET".into(),
            path: "/healthz".into(),
            query: String::new(),
            content_type: None,
            body: Vec::new(),
        };
        let res = call(via, app, &health).await;
        assert_eq!((res.status, res.text().as_str()), (200, "ok"));
    }
}

/// The webhook on the local HTTP server, on a loopback port.
struct LocalServer {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalServer {
    async fn start() -> Self {
        let (app, _) = recording();
        let listener = riskrelay::server::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(riskrelay::server::serve(listener, app, async {
            let _ = stopped.await;
        }));
        Self { addr, stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

#[tokio::test]
async fn a_client_still_sending_an_oversized_body_receives_the_413_not_a_reset() {
    let server = LocalServer::start().await;
    let addr = server.addr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    // More than loopback socket buffers hold, less than the server lingers for.
    let size = 12 * 1024 * 1024;
    let writer = tokio::spawn(async move {
        wr.write_all(format!("POST /notifications HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n").as_bytes())
            .await?;
        wr.write_all(&vec![b' '; size]).await?;
        wr.shutdown().await
    });
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        rd.read_to_end(&mut answer),
    )
    .await
    .unwrap()
    .expect("the connection ends cleanly, not with a reset");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 413"));
    writer
        .await
        .unwrap()
        .expect("the whole body was taken, not refused with a reset");
    server.stop().await;
}

#[tokio::test]
async fn http_server_rejects_a_declared_oversized_body_without_reading_it() {
    let server = LocalServer::start().await;
    let addr = server.addr;
    // Declares 2 MiB and sends a few bytes: answered at once with 413, not after a read timeout.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /notifications HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2097152\r\n\r\n{\"value\"")
        .await
        .unwrap();
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 413"));
    server.stop().await;
    let _ = Bytes::new();
}

/// A store that cannot be reached.
struct Unreachable;

#[async_trait::async_trait]
impl riskrelay::store::Store for Unreachable {
    async fn get(
        &self,
        _: riskrelay::ids::TenantId,
        _: &str,
    ) -> Result<Option<(serde_json::Value, u64)>, riskrelay::store::StoreError> {
        Err(riskrelay::store::StoreError::Unavailable("down".into()))
    }
    async fn put(
        &self,
        _: riskrelay::ids::TenantId,
        _: &str,
        _: &serde_json::Value,
        _: Option<u64>,
    ) -> Result<bool, riskrelay::store::StoreError> {
        Err(riskrelay::store::StoreError::Unavailable("down".into()))
    }
    async fn list(
        &self,
        _: riskrelay::ids::TenantId,
        _: &str,
        _: Option<&str>,
        _: usize,
    ) -> Result<riskrelay::store::Listed, riskrelay::store::StoreError> {
        Err(riskrelay::store::StoreError::Unavailable("down".into()))
    }
    async fn claim_delivery(
        &self,
        _: &str,
        _: &str,
        _: time::OffsetDateTime,
    ) -> Result<riskrelay::store::Claim, riskrelay::store::StoreError> {
        Err(riskrelay::store::StoreError::Unavailable("down".into()))
    }
    async fn complete_delivery(
        &self,
        _: &str,
        _: &str,
        _: time::OffsetDateTime,
    ) -> Result<(), riskrelay::store::StoreError> {
        Err(riskrelay::store::StoreError::Unavailable("down".into()))
    }
    async fn release_delivery(&self, _: &str, _: &str) -> Result<(), riskrelay::store::StoreError> {
        Err(riskrelay::store::StoreError::Unavailable("down".into()))
    }
}

#[tokio::test]
async fn only_subscriptions_riskrelay_created_are_accepted_and_a_creation_in_flight_is() {
    use riskrelay::source::subscriptions::{CreatedWith, KnownSubscriptions};
    use riskrelay::store::{self, Store, keys, memory::MemoryStore};
    let tenant = riskrelay::ids::TenantId::parse(TENANT).unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let ours = riskrelay::ids::SubscriptionId::parse(SUBSCRIPTION).unwrap();
    store::save(
        store.as_ref(),
        tenant,
        keys::SUBSCRIPTIONS,
        &CreatedWith([(ours, "fingerprint".to_string())].into()),
        None,
    )
    .await
    .unwrap();
    let webhook = |store: Arc<dyn Store>| {
        let q = RecordingQueue::default();
        let known = KnownSubscriptions::new(tenant, store);
        let app = Webhook::new(&webhook_config(&webhook_env()), Arc::new(q.clone()))
            .with_known_subscriptions(Arc::new(known));
        (Arc::new(app), q)
    };
    let genuine = item(&format!("Users/{USER_1}"), Some(CLIENT_STATE), TENANT);
    let mut forged = item(&format!("Users/{USER_2}"), Some(CLIENT_STATE), TENANT);
    forged["subscriptionId"] = json!("00000000-1111-4222-8333-444444444444");
    let both = Req::notifications(json!({ "value": [genuine, forged.clone()] }));
    let only_forged = Req::notifications(json!({ "value": [forged] }));

    for via in BOTH {
        let (app, q) = webhook(store.clone());
        let res = call(via, app, &both).await;
        assert_eq!(res.status, 202, "{via:?}");
        assert_eq!(users(&q.items()), vec![USER_1.to_string()], "{via:?}");
    }

    // While upkeep is creating a subscription its id is not saved yet: accepted until the
    // marker lapses.
    let now = time::OffsetDateTime::now_utc();
    store::save(
        store.as_ref(),
        tenant,
        keys::SUBSCRIPTIONS_CREATING,
        &Some(now + time::Duration::minutes(2)),
        None,
    )
    .await
    .unwrap();
    let (app, q) = webhook(store.clone());
    call(Via::Http, app, &only_forged).await;
    assert_eq!(users(&q.items()), vec![USER_2.to_string()]);
    store::save(
        store.as_ref(),
        tenant,
        keys::SUBSCRIPTIONS_CREATING,
        &Some(now - time::Duration::seconds(1)),
        Some(1),
    )
    .await
    .unwrap();
    let (app, q) = webhook(store.clone());
    call(Via::Http, app, &only_forged).await;
    assert!(q.items().is_empty(), "the lapsed marker admits nothing");

    // When the ids cannot be read, the clientState alone decides: nothing real is lost.
    let (app, q) = webhook(Arc::new(Unreachable));
    call(Via::Http, app, &only_forged).await;
    assert_eq!(q.items().len(), 1);
}
