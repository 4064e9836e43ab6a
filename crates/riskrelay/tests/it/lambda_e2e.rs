//! The real Lambda binaries under a local Lambda Runtime API, with moto for SQS, DynamoDB and
//! Secrets Manager, the simulated tenant for Graph, and fake Slack and Teams servers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use riskrelay::risk::{DetectionTimingType, RiskLevel};
use riskrelay::server::HttpApp;
use riskrelay::store::dynamo::DynamoStore;
use riskrelay_sim::{DetectionSpec, SimConfig, SimUser, Simulator};
use serde_json::{Value, json};
use tokio::sync::Notify;
use wiremock::MockServer;

use riskrelay_sim::testkit::{SLACK_PATH, TEAMS_PATH};
use riskrelay_sim::testkit::{aws_config, moto_endpoint, record_received, unique};

const API: &str = "/2018-06-01/runtime";

#[derive(Default)]
struct RtState {
    pending: VecDeque<(String, Value)>,
    results: HashMap<String, Result<Value, Value>>,
    init_error: Option<Value>,
    first_next: Option<Instant>,
    /// The function's timeout as each invocation's deadline tells it (120 s when unset).
    timeout: Option<Duration>,
}

/// A local stand-in for the Lambda Runtime API: hands out events on `next`, collects responses.
#[derive(Clone)]
struct RuntimeApi {
    state: Arc<Mutex<RtState>>,
    changed: Arc<Notify>,
}

#[async_trait::async_trait]
impl HttpApp for RuntimeApi {
    async fn handle(&self, req: http::Request<Bytes>) -> http::Response<Bytes> {
        let path = req.uri().path().to_string();
        let body: Value = serde_json::from_slice(req.body()).unwrap_or(Value::Null);
        if path == format!("{API}/invocation/next") {
            loop {
                let notified = self.changed.notified();
                {
                    let mut s = self.state.lock().unwrap();
                    s.first_next.get_or_insert_with(Instant::now);
                    let timeout = s.timeout.unwrap_or(Duration::from_secs(120));
                    if let Some((id, event)) = s.pending.pop_front() {
                        let deadline = (std::time::SystemTime::now() + timeout)
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis();
                        return http::Response::builder()
                            .header("lambda-runtime-aws-request-id", id)
                            .header("lambda-runtime-deadline-ms", deadline.to_string())
                            .header(
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:123456789012:function:riskrelay",
                            )
                            .header(
                                "lambda-runtime-trace-id",
                                "Root=1-00000000-000000000000000000000000",
                            )
                            .body(Bytes::from(event.to_string()))
                            .unwrap();
                    }
                }
                notified.await;
            }
        }
        let mut s = self.state.lock().unwrap();
        if path == format!("{API}/init/error") {
            s.init_error = Some(body);
        } else if let Some(rest) = path.strip_prefix(&format!("{API}/invocation/")) {
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let result = if kind == "response" {
                Ok(body)
            } else {
                Err(body)
            };
            s.results.insert(id.to_string(), result);
        }
        drop(s);
        self.changed.notify_waiters();
        http::Response::builder()
            .status(202)
            .body(Bytes::new())
            .unwrap()
    }
}

/// A Lambda function: its binary, run under the local Runtime API.
pub(crate) struct Function {
    api: RuntimeApi,
    child: tokio::process::Child,
    spawned: Instant,
    /// The function's stderr (its logs), in a file so a chatty function never blocks on a pipe.
    log: std::path::PathBuf,
    /// Its stdout: the CloudWatch Embedded Metric Format lines.
    out: std::path::PathBuf,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Function {
    pub(crate) async fn start(binary: &str, env: &[(String, String)]) -> Self {
        let api = RuntimeApi {
            state: Arc::default(),
            changed: Arc::new(Notify::new()),
        };
        let listener = riskrelay::server::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(riskrelay::server::serve(
            listener,
            Arc::new(api.clone()),
            async {
                let _ = stopped.await;
            },
        ));
        let mut cmd = tokio::process::Command::new(binary);
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "riskrelay-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RISKRELAY_LOG_FORMAT", "json")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .kill_on_drop(true);
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("lambda-logs");
        std::fs::create_dir_all(&dir).unwrap();
        let name = std::path::Path::new(binary)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let log = dir.join(format!("{name}-{}.log", uuid::Uuid::new_v4().simple()));
        cmd.stderr(std::fs::File::create(&log).unwrap());
        let out = log.with_extension("out");
        cmd.stdout(std::fs::File::create(&out).unwrap());
        let spawned = Instant::now();
        Self {
            api,
            child: cmd.spawn().unwrap(),
            spawned,
            log,
            out,
            _stop: stop,
        }
    }

    pub(crate) async fn invoke(&self, event: Value) -> Result<Value, Value> {
        let id = uuid::Uuid::new_v4().to_string();
        self.api
            .state
            .lock()
            .unwrap()
            .pending
            .push_back((id.clone(), event));
        self.api.changed.notify_waiters();
        // The function's own timeout, and a margin for its answer to come back (a loaded machine
        // runs the benchmarks' functions late).
        let timeout = self.api.state.lock().unwrap().timeout;
        let deadline = Instant::now()
            + timeout.map_or(Duration::from_secs(90), |t| t + Duration::from_secs(120));
        loop {
            let notified = self.api.changed.notified();
            if let Some(r) = self.api.state.lock().unwrap().results.remove(&id) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "no answer in time; the function's log is {}",
                self.log.display()
            );
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
    }

    /// Gives later invocations this timeout (their deadline is this far from their start).
    pub(crate) fn set_timeout(&self, timeout: Duration) {
        self.api.state.lock().unwrap().timeout = Some(timeout);
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The metric totals of its EMF lines, checked against the format's specification by
    /// tools/metrics/emf_check.py; fails on any stdout line that is not EMF.
    fn emf(&self) -> Value {
        let root = riskrelay_sim::testkit::repo_root();
        let out = std::process::Command::new(root.join(".tools/venv/bin/python"))
            .arg(root.join("tools/metrics/emf_check.py"))
            .arg(&self.out)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            self.out.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Time from process start to its first request for an event: the cold-start initialisation.
    fn init_time(&self) -> Option<Duration> {
        self.api
            .state
            .lock()
            .unwrap()
            .first_next
            .map(|t| t - self.spawned)
    }

    pub(crate) fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

pub(crate) struct Aws {
    pub(crate) sqs: aws_sdk_sqs::Client,
    pub(crate) queue_url: String,
    pub(crate) table: String,
    pub(crate) secret_id: String,
}

pub(crate) async fn aws(sim: &Simulator, slack: &MockServer, teams: &MockServer) -> Aws {
    let config = aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = create_queue(&sqs, &unique("riskrelay-e2e"), false).await;
    let table = unique("riskrelay-e2e");
    DynamoStore::create_table(&aws_sdk_dynamodb::Client::new(&config), &table)
        .await
        .unwrap();
    let secret_id = unique("riskrelay/e2e");
    let secret = json!({
        "graph_client_secret": SimConfig::default().client_secret,
        "client_state": "e2e-client-state",
        "slack_signing_secret": SLACK_SIGNING_SECRET,
        "slack_webhook_url": format!("{}{SLACK_PATH}", slack.uri()),
        "teams_webhook_url": format!("{}{TEAMS_PATH}?sig=e2e", teams.uri()),
    });
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(&secret_id)
        .secret_string(secret.to_string())
        .send()
        .await
        .unwrap();
    let _ = sim;
    Aws {
        sqs,
        queue_url,
        table,
        secret_id,
    }
}

pub(crate) fn env(sim: &Simulator, aws: &Aws) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", moto_endpoint()),
        ("RISKRELAY_TENANT_ID", sim.tenant_id().to_string()),
        (
            "RISKRELAY_CLIENT_ID",
            SimConfig::default().client_id.to_string(),
        ),
        ("RISKRELAY_AUTHORITY_HOST", sim.url().to_string()),
        ("RISKRELAY_GRAPH_ROOT", sim.url().to_string()),
        ("RISKRELAY_SECRET_ID", aws.secret_id.clone()),
        ("RISKRELAY_TABLE_NAME", aws.table.clone()),
        ("RISKRELAY_QUEUE_URL", aws.queue_url.clone()),
        ("RISKRELAY_MIN_RISK_LEVEL", "low".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A queue in moto (FIFO when `fifo`, its name then ending in `.fifo`): its URL.
pub(crate) async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str, fifo: bool) -> String {
    let mut create = sqs.create_queue().queue_name(name);
    if fifo {
        create = create.attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
    }
    create
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string()
}

/// Everything on the queue, as the SQS event Lambda would hand the worker.
async fn drain(aws: &Aws) -> Value {
    let records: Vec<Value> = take(&aws.sqs, &aws.queue_url)
        .await
        .iter()
        .map(|m| sqs_record(m.message_id().unwrap(), m.body().unwrap()))
        .collect();
    json!({ "Records": records })
}

/// Every message on a queue (with its message group, on a FIFO queue), deleted as Lambda deletes
/// a batch that succeeded.
pub(crate) async fn take(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut taken = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId,
            )
            .send()
            .await
            .unwrap();
        if out.messages().is_empty() {
            break;
        }
        for m in out.messages() {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        taken.extend(out.messages().iter().cloned());
    }
    taken
}

pub(crate) fn fixture(name: &str) -> Value {
    let path = riskrelay_sim::testkit::repo_root().join(format!("events/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub(crate) fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": "handle",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795600800000", "SenderId": "AIDA", "ApproximateFirstReceiveTimestamp": "1795600800001"},
        "messageAttributes": {},
        "md5OfBody": "0",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:riskrelay",
        "awsRegion": "us-east-1"
    })
}

pub(crate) async fn chat_servers() -> (MockServer, MockServer) {
    let slack = MockServer::start().await;
    let teams = MockServer::start().await;
    riskrelay_sim::testkit::ok_slack(&slack).await;
    riskrelay_sim::testkit::ok_teams(&teams).await;
    (slack, teams)
}

pub(crate) async fn posts(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn poller_and_worker_binaries_end_to_end() {
    // The tenant of the fixtures in events/.
    let sim = Simulator::start(SimConfig {
        tenant_id: riskrelay::ids::TenantId::parse(riskrelay_sim::testkit::TENANT).unwrap(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (slack, teams) = chat_servers().await;
    let aws = aws(&sim, &slack, &teams).await;
    let env = env(&sim, &aws);
    let poller = Function::start(env!("CARGO_BIN_EXE_poller"), &env).await;
    let worker = Function::start(env!("CARGO_BIN_EXE_worker"), &env).await;

    // First schedule: the baseline of an empty tenant, announced once.
    let r = poller.invoke(fixture("schedule-poll")).await.unwrap();
    assert_eq!(r["baseline"], true, "{r}");
    let batch = drain(&aws).await;
    let out = worker.invoke(batch).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");
    assert_eq!((posts(&slack).await, posts(&teams).await), (1, 1));

    // A user becomes risky: the poller enqueues, the worker posts once per sink.
    let id = sim.add_user(
        SimUser::new(riskrelay_sim::testkit::uid(900), "Adsync User 2", "adsync2").synced(),
    );
    sim.detect(
        id,
        DetectionSpec::new(
            "userReportedSuspiciousActivity",
            "user",
            RiskLevel::High,
            DetectionTimingType::Offline,
        ),
    );
    let r = poller.invoke(fixture("schedule-event")).await.unwrap();
    assert_eq!(
        (r["baseline"].clone(), r["enqueued"].clone()),
        (json!(false), json!(1)),
        "a plain scheduled event polls: {r}"
    );
    let out = worker.invoke(drain(&aws).await).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([]));
    assert_eq!((posts(&slack).await, posts(&teams).await), (2, 2));

    // No change: the overlapping window re-reads the user, and nothing is posted.
    poller.invoke(fixture("schedule-poll")).await.unwrap();
    let out = worker.invoke(drain(&aws).await).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([]));
    assert_eq!(
        (posts(&slack).await, posts(&teams).await),
        (2, 2),
        "the second schedule event posts nothing"
    );

    // One unreadable message in a batch (events/sqs-batch.json, with an observation and a
    // lifecycle event around it): exactly its id comes back.
    let out = worker.invoke(fixture("sqs-batch")).await.unwrap();
    assert_eq!(
        out["batchItemFailures"],
        json!([{"itemIdentifier": "5fea7756-0ea4-451a-a703-a558b933e271"}])
    );
    let good = |user: u128| {
        json!({"type": "observation", "tenantId": sim.tenant_id().to_string(),
               "subject": {"kind": "riskyUser", "userId": riskrelay_sim::testkit::uid(user).to_string()},
               "origin": {"kind": "poll", "cycleId": "manual"}, "observedAt": "2026-11-25T10:00:00Z"})
        .to_string()
    };
    let batch = json!({"Records": [
        sqs_record("m-1", &good(901)),
        sqs_record("m-2", "{\"type\": \"observation\", \"tenantId\": 42"),
        sqs_record("m-3", &good(902)),
    ]});
    let out = worker.invoke(batch).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([{"itemIdentifier": "m-2"}]));

    // A message whose Graph read fails is reported, its neighbours are not.
    sim.fail(riskrelay_sim::Fault::status(
        &format!("/riskyUsers/{}", riskrelay_sim::testkit::uid(904)),
        503,
        20,
    ));
    let batch = json!({"Records": [sqs_record("m-4", &good(903)), sqs_record("m-5", &good(904))]});
    let out = worker.invoke(batch).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([{"itemIdentifier": "m-5"}]));

    // The posture job runs from the same binary and queues its findings for the worker.
    let r = poller.invoke(fixture("schedule-posture")).await.unwrap();
    assert_eq!(
        r["exitCode"], 1,
        "no user-risk policy in the simulated tenant: {r}"
    );
    let out = worker.invoke(drain(&aws).await).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([]));
    // Two findings: no user-risk policy, and (the simulated tenant's risky service principals
    // are read, so it has the licence) no policy blocking high-risk workload identities.
    assert_eq!(posts(&slack).await, 4, "the policy findings");
    let err = poller
        .invoke(json!({"job": "defragment"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown job"), "{err}");

    // Each invocation wrote its figures as EMF lines: three polls (all working), and every post
    // the worker made, by destination.
    let p = poller.emf();
    assert_eq!(p["totals"]["PollCycles"], 3.0, "{p}");
    assert_eq!(p["totals"]["PollSucceeded"], 3.0, "{p}");
    assert!(
        p["totals"]["IdentityProtectionRequests"].as_f64().unwrap() >= 6.0,
        "{p}"
    );
    assert!(p["totals"].get("CheckpointLag").is_some(), "{p}");
    let w = worker.emf();
    assert_eq!(
        w["totals"]["AlertsDelivered"].as_f64().unwrap(),
        (posts(&slack).await + posts(&teams).await) as f64,
        "{w}"
    );
    assert!(
        w["dimensions"]
            .as_array()
            .unwrap()
            .contains(&json!("Destination")),
        "{w}"
    );

    record_received("slack", "lambda-e2e", &slack).await;
    record_received("teams", "lambda-e2e", &teams).await;
    for (name, f) in [("poller", &poller), ("worker", &worker)] {
        println!(
            "{name}: cold-start init {:?}, peak RSS {:?} KiB",
            f.init_time(),
            f.peak_rss_kib()
        );
    }
}

#[tokio::test]
async fn secrets_manager_unavailable_at_cold_start_fails_init_clearly() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (slack, teams) = chat_servers().await;
    let aws = aws(&sim, &slack, &teams).await;
    let mut env = env(&sim, &aws);
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into()));
    let mut f = Function::start(env!("CARGO_BIN_EXE_worker"), &env).await;
    let status = tokio::time::timeout(Duration::from_secs(60), f.child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(!status.success());
    let stderr = f.stderr();
    assert!(
        stderr.contains("could not start") && stderr.contains("could not read secret"),
        "{stderr}"
    );
    assert!(
        f.api.state.lock().unwrap().first_next.is_none(),
        "no event was taken by a half-configured function"
    );

    // A secret without a required key names it, and the function does not start either.
    let config = aws_config().await;
    let id = unique("riskrelay/e2e-partial");
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(&id)
        .secret_string(json!({"graph_client_secret": "x"}).to_string())
        .send()
        .await
        .unwrap();
    let mut env = crate::lambda_e2e::env(&sim, &aws);
    env.retain(|(k, _)| k != "RISKRELAY_SECRET_ID");
    env.push(("RISKRELAY_SECRET_ID".into(), id.clone()));
    let mut f = Function::start(env!("CARGO_BIN_EXE_poller"), &env).await;
    let status = tokio::time::timeout(Duration::from_secs(60), f.child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(!status.success());
    let stderr = f.stderr();
    assert!(
        stderr.contains(&format!("key \\\"client_state\\\" of secret {id}"))
            || stderr.contains(&format!("key \"client_state\" of secret {id}")),
        "{stderr}"
    );
}

#[tokio::test]
async fn webhook_binary_answers_graph_and_enqueues_to_sqs() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (slack, teams) = chat_servers().await;
    let aws = aws(&sim, &slack, &teams).await;
    // The fixtures' tenant and clientState, from the secret as in AWS.
    let config = aws_config().await;
    let id = unique("riskrelay/e2e-webhook");
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(&id)
        .secret_string(json!({"client_state": riskrelay_sim::testkit::CLIENT_STATE}).to_string())
        .send()
        .await
        .unwrap();
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", moto_endpoint()),
        (
            "RISKRELAY_TENANT_ID",
            riskrelay_sim::testkit::TENANT.to_string(),
        ),
        ("RISKRELAY_SECRET_ID", id),
        ("RISKRELAY_QUEUE_URL", aws.queue_url.clone()),
        ("RISKRELAY_TABLE_NAME", aws.table.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // The fixtures' subscription, as upkeep records it in DynamoDB.
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), aws.table.clone());
    let tenant = riskrelay::ids::TenantId::parse(riskrelay_sim::testkit::TENANT).unwrap();
    let known = riskrelay::source::subscriptions::CreatedWith(
        [(
            riskrelay::ids::SubscriptionId::parse(riskrelay_sim::testkit::SUBSCRIPTION).unwrap(),
            "fingerprint".to_string(),
        )]
        .into(),
    );
    riskrelay::store::save(
        &store,
        tenant,
        riskrelay::store::keys::SUBSCRIPTIONS,
        &known,
        None,
    )
    .await
    .unwrap();
    let webhook = Function::start(env!("CARGO_BIN_EXE_webhook"), &env).await;

    let r = webhook.invoke(fixture("furl-validation")).await.unwrap();
    assert_eq!(r["statusCode"], 200, "{r}");
    assert_eq!(r["headers"]["content-type"], "text/plain; charset=utf-8");
    assert!(
        r["body"]
            .as_str()
            .unwrap()
            .starts_with("Validation: Testing client application reachability"),
        "{r}"
    );

    let r = webhook.invoke(fixture("furl-notifications")).await.unwrap();
    assert_eq!(r["statusCode"], 202, "{r}");
    let batch = drain(&aws).await;
    assert_eq!(
        batch["Records"].as_array().unwrap().len(),
        2,
        "both notifications reached SQS"
    );

    // The same notifications from a subscription riskrelay did not create: refused (still a 202,
    // so a sender learns nothing).
    let mut forged = fixture("furl-notifications");
    let body = forged["body"].as_str().unwrap().replace(
        riskrelay_sim::testkit::SUBSCRIPTION,
        "00000000-1111-4222-8333-444444444444",
    );
    forged["body"] = json!(body);
    let r = webhook.invoke(forged).await.unwrap();
    assert_eq!(r["statusCode"], 202, "{r}");
    assert!(
        drain(&aws).await["Records"]
            .as_array()
            .is_none_or(|r| r.is_empty()),
        "nothing from an unknown subscription reached SQS"
    );

    let r = webhook.invoke(fixture("furl-malformed")).await.unwrap();
    assert_eq!(r["statusCode"], 400, "{r}");
    println!(
        "webhook: cold-start init {:?}, peak RSS {:?} KiB",
        webhook.init_time(),
        webhook.peak_rss_kib()
    );
}

/// A window too large for one invocation: each poller invocation has a few seconds (the function's
/// timeout minus the margin it keeps), runs out of time, and the next one takes half the window;
/// cut windows then go through and grow back until the present is reached. Every user is alerted
/// exactly once, whatever the number of invocations.
#[tokio::test]
async fn a_window_larger_than_one_invocation_is_caught_up_across_invocations() {
    use riskrelay::store::Store as _;
    // Few users, many detections each: Teams takes at most four posts a second (riskrelay paces
    // them 300 ms apart), and the window's reads are what this test is about.
    const USERS: u32 = 100;
    const DETECTIONS: u32 = 12;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (slack, teams) = chat_servers().await;
    let aws = aws(&sim, &slack, &teams).await;
    let mut env = env(&sim, &aws);
    // One message per user (no digest), so the test can count them; Slack's pace is the only wait.
    env.push(("RISKRELAY_DIGEST_THRESHOLD".into(), "1000".into()));
    env.push(("RISKRELAY_SINKS".into(), "teams:teams".into()));
    let poller = Function::start(env!("CARGO_BIN_EXE_poller"), &env).await;
    let worker = Function::start(env!("CARGO_BIN_EXE_worker"), &env).await;
    let r = poller.invoke(fixture("schedule-poll")).await.unwrap();
    assert_eq!(r["baseline"], true, "{r}");
    worker.invoke(drain(&aws).await).await.unwrap();

    // The last cycle ran three hours ago; since then 100 users became risky, 12 detections each:
    // 1,200 detections (three pages of 500), then a page of users: about 4 s of reads, more than
    // an invocation has.
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&aws_config().await),
        &aws.table,
    );
    let tenant = sim.tenant_id();
    let (_, version) = store.get(tenant, "checkpoint").await.unwrap().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let start = now - time::Duration::hours(3);
    assert!(store
        .put(tenant, "checkpoint", &json!({"at": start.format(&time::format_description::well_known::Rfc3339).unwrap()}), Some(version))
        .await
        .unwrap());
    let mut names = Vec::new();
    for n in 0..USERS {
        let at = start + time::Duration::seconds(i64::from(n) * 10_800 / i64::from(USERS) + 30);
        let name = format!("Catch Up {n:03}");
        let id = sim.add_user(SimUser::new(
            riskrelay_sim::testkit::uid(5000 + u128::from(n)),
            &name,
            &format!("catchup{n:03}"),
        ));
        for d in 0..DETECTIONS {
            sim.add_detection(
                id,
                DetectionSpec::new(
                    "unfamiliarFeatures",
                    "signin",
                    RiskLevel::Medium,
                    DetectionTimingType::Realtime,
                )
                .at(at + time::Duration::seconds(i64::from(d))),
            );
        }
        sim.set_risk_at(
            id,
            RiskLevel::Medium,
            riskrelay::risk::RiskState::AtRisk,
            riskrelay::risk::RiskDetail::None,
            at,
        );
        names.push(name);
    }

    // 20 s of margin and 4 s to read: one identity-protection request a second allows about four.
    poller.set_timeout(Duration::from_secs(24));
    let (mut out_of_time, mut invocations) = (0, 0);
    loop {
        invocations += 1;
        assert!(
            invocations <= 40,
            "not caught up after 40 invocations; log {}",
            poller.log.display()
        );
        let result = poller.invoke(fixture("schedule-poll")).await;
        let batch = drain(&aws).await;
        if !batch["Records"].as_array().unwrap().is_empty() {
            let out = worker.invoke(batch).await.unwrap();
            assert_eq!(out["batchItemFailures"], json!([]), "{out}");
        }
        match result {
            Err(e) => {
                assert!(e.to_string().contains("time"), "{e}");
                out_of_time += 1;
            }
            // Caught up: the cycle read to the present, so no cut span is kept.
            Ok(_)
                if store
                    .get(tenant, "poll-span")
                    .await
                    .unwrap()
                    .is_none_or(|(v, _)| v.is_null()) =>
            {
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(
        out_of_time >= 1,
        "the window never had to be cut ({invocations} invocations)"
    );

    let texts = riskrelay_sim::testkit::received_text(&teams).await;
    for name in &names {
        let times = texts.iter().filter(|t| t.contains(name.as_str())).count();
        assert_eq!(times, 1, "{name} was posted {times} times");
    }
    println!(
        "caught up in {invocations} invocations, {out_of_time} out of time; {} posts",
        texts.len()
    );
}

/// The actions function under the local Runtime API, configured from the secret as in AWS: a
/// forged link gets the refusal page with its security headers; a link signed with the key the
/// deployment derives from its generated `client_state` starts an Entra sign-in, its session
/// cookie returned the Function URL way (`cookies`), `__Host-` and `Secure` over https.
#[tokio::test]
async fn actions_binary_serves_the_action_pages_from_the_secret() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (slack, teams) = chat_servers().await;
    let aws = aws(&sim, &slack, &teams).await;
    let public = "https://qrstuvwxyzabcdef.lambda-url.us-east-1.on.aws";
    let mut env = env(&sim, &aws);
    env.push(("RISKRELAY_ACTIONS".into(), "confirm,revoke".into()));
    env.push(("RISKRELAY_ACTIONS_URL".into(), public.into()));
    let actions = Function::start(env!("CARGO_BIN_EXE_actions"), &env).await;

    let r = actions.invoke(fixture("furl-action-link")).await.unwrap();
    assert_eq!(r["statusCode"], 400, "{r}");
    assert_eq!(r["headers"]["content-type"], "text/html; charset=utf-8");
    assert!(
        r["headers"]["content-security-policy"]
            .as_str()
            .unwrap()
            .contains("frame-ancestors 'none'"),
        "{r}"
    );
    assert!(
        r["body"]
            .as_str()
            .unwrap()
            .contains("This link is not valid")
    );

    let user = riskrelay::ids::UserId::parse(riskrelay_sim::testkit::USER_1).unwrap();
    let (token, event) = sign_in_event(public, sim.tenant_id(), user);
    let token = token.as_str();
    let r = actions.invoke(event).await.unwrap();
    assert_eq!(r["statusCode"], 303, "{r}");
    let location = r["headers"]["location"].as_str().unwrap();
    assert!(
        location.starts_with(&format!(
            "{}{}/oauth2/v2.0/authorize?",
            sim.url(),
            sim.tenant_id()
        )),
        "{location}"
    );
    assert!(location.contains(&format!(
        "redirect_uri={}",
        form_urlencoded::byte_serialize(format!("{public}/actions/callback").as_bytes())
            .collect::<String>()
    )));
    let cookies = r["cookies"].as_array().unwrap_or_else(|| panic!("{r}"));
    assert!(
        cookies.iter().any(|c| {
            let c = c.as_str().unwrap();
            c.starts_with("__Host-riskrelay-actions=")
                && c.contains("; Secure")
                && c.contains("HttpOnly")
        }),
        "{r}"
    );
    // Slack's interactivity Request URL on the same function URL: a signed click is acknowledged,
    // the same click with another body is refused.
    let body = "payload=%7B%22type%22%3A%22block_actions%22%7D";
    let now = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let signature = riskrelay::slack_signature::sign(
        &secrecy::SecretString::from(SLACK_SIGNING_SECRET),
        &now,
        body.as_bytes(),
    );
    let click = |body: &str| {
        let mut event = fixture("furl-action-link");
        event["rawPath"] = json!("/slack/interactions");
        event["requestContext"]["http"]["path"] = json!("/slack/interactions");
        event["requestContext"]["http"]["method"] = json!("POST");
        event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
        event["headers"]["x-slack-request-timestamp"] = json!(now);
        event["headers"]["x-slack-signature"] = json!(signature);
        event["body"] = json!(body);
        event
    };
    let r = actions.invoke(click(body)).await.unwrap();
    assert_eq!(r["statusCode"], 200, "{r}");
    let r = actions.invoke(click("payload=%7B%7D")).await.unwrap();
    assert_eq!(r["statusCode"], 401, "{r}");
    let logs = actions.stderr();
    assert!(
        !logs.contains("e2e-client-state")
            && !logs.contains(token)
            && !logs.contains(SLACK_SIGNING_SECRET),
        "{logs}"
    );
}

/// A Function URL request opening the sign-in of a Confirm link for `user` in `tenant`, signed
/// with the key the deployment derives from its generated `client_state` (no `action_link_key`
/// in the secret): the link's token and the event.
fn sign_in_event(
    public: &str,
    tenant: riskrelay::ids::TenantId,
    user: riskrelay::ids::UserId,
) -> (String, Value) {
    let local = riskrelay::config::Env::default()
        .with("RISKRELAY_ACTIONS", "confirm")
        .with("RISKRELAY_ACTIONS_URL", public)
        .with("RISKRELAY_CLIENT_STATE", "e2e-client-state");
    let config =
        riskrelay::action_link::ActionsConfig::load(&local, &riskrelay::config::EnvSecrets(&local))
            .unwrap()
            .unwrap();
    let button = config.button(
        tenant,
        user,
        "user/e2e",
        riskrelay::action_link::ActionKind::Confirm,
        time::OffsetDateTime::now_utc(),
    );
    let token = button.url.rsplit('/').next().unwrap().to_string();
    let path = format!("/actions/signin/{token}");
    let mut event = fixture("furl-action-link");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    (token, event)
}

const SLACK_SIGNING_SECRET: &str = "e2e-slack-signing-secret-0123456789";

/// The MSP mode in AWS: the scheduled poller queues one job per registered tenant on a FIFO
/// queue (each tenant its own message group, a repeated tick dropped), each job runs as its own
/// invocation, the worker delivers each tenant's alerts with the tenant named and the
/// announcement of a tenant whose consent was revoked, and the webhook function verifies each
/// notification with the clientState of the tenant it claims.
#[tokio::test]
async fn the_msp_mode_fans_out_one_job_per_tenant_through_a_fifo_queue() {
    let sims = Simulator::start_many((0..3).map(SimConfig::tenant).collect())
        .await
        .unwrap();
    let (slack, teams) = chat_servers().await;
    let aws = aws(&sims[0], &slack, &teams).await;
    let config = aws_config().await;
    let jobs_url = create_queue(
        &aws.sqs,
        &format!("{}.fifo", unique("riskrelay-jobs")),
        true,
    )
    .await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), aws.table.clone());
    // Contoso, Fabrikam and Northwind.
    riskrelay_sim::scenario::register_tenants(&store, &sims)
        .await
        .unwrap();
    let mut env = env(&sims[0], &aws);
    env.push(("RISKRELAY_TENANTS".into(), "registry".into()));
    env.push(("RISKRELAY_TENANT_JOBS_QUEUE_URL".into(), jobs_url.clone()));
    let poller = Function::start(env!("CARGO_BIN_EXE_poller"), &env).await;
    let worker = Function::start(env!("CARGO_BIN_EXE_worker"), &env).await;

    // The jobs on the FIFO queue, as the event source hands them to the poller.
    let take_jobs = || async {
        let taken = take(&aws.sqs, &jobs_url).await;
        let records: Vec<Value> = taken
            .iter()
            .map(|m| sqs_record(m.message_id().unwrap(), m.body().unwrap()))
            .collect();
        let groups: Vec<String> = taken
            .iter()
            .map(|m| {
                m.attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId)
                    })
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        (json!({ "Records": records }), groups)
    };

    let r = poller.invoke(fixture("schedule-poll")).await.unwrap();
    assert_eq!(r["queued"], 3, "{r}");
    // The same tick fired twice: nothing is queued twice.
    poller.invoke(fixture("schedule-poll")).await.unwrap();
    let (jobs, mut groups) = take_jobs().await;
    groups.sort();
    let mut tenants: Vec<String> = sims.iter().map(|s| s.tenant_id().to_string()).collect();
    tenants.sort();
    assert_eq!(
        groups, tenants,
        "one job per tenant, the tenant its message group"
    );
    // Each tenant's job in its own invocation, as the event source with batch size 1 does.
    for record in jobs["Records"].as_array().unwrap() {
        let r = poller.invoke(json!({ "Records": [record] })).await.unwrap();
        assert_eq!(r["jobs"][0]["result"], "done", "{r}");
    }
    let out = worker.invoke(drain(&aws).await).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");
    let texts = riskrelay_sim::testkit::received_text(&slack)
        .await
        .join("\n");
    for name in ["[Contoso]", "[Fabrikam]", "[Northwind]"] {
        assert!(texts.contains(name), "no baseline for {name}: {texts}");
    }

    // Fabrikam has a user at risk; Northwind's administrator revokes riskrelay's access.
    riskrelay_sim::testkit::high_risk(
        &sims[1],
        SimUser::new(riskrelay_sim::testkit::uid(1), "Bob Fabrikam", "bob").synced(),
    );
    sims[2].set_consent(false);
    // A minute later by the schedule's clock: a new tick.
    let r = poller
        .invoke(json!({"job": "poll", "tenant": sims[1].tenant_id().to_string()}))
        .await
        .unwrap();
    assert_eq!(r["result"], "done", "one tenant's job on demand: {r}");
    let r = poller
        .invoke(json!({"job": "poll", "tenant": sims[2].tenant_id().to_string()}))
        .await
        .unwrap();
    assert!(r["result"].as_str().unwrap().starts_with("failed"), "{r}");
    let out = worker.invoke(drain(&aws).await).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");
    let posts = riskrelay_sim::testkit::received_text(&slack).await;
    assert_eq!(
        posts.iter().filter(|p| p.contains("Bob Fabrikam")).count(),
        1
    );
    assert!(
        posts
            .iter()
            .any(|p| p.contains("[Fabrikam]") && p.contains("Bob Fabrikam"))
    );
    let lost: Vec<&String> = posts
        .iter()
        .filter(|p| p.contains("lost access to a tenant"))
        .collect();
    assert_eq!(lost.len(), 1, "{posts:?}");
    assert!(lost[0].contains("Northwind"), "{}", lost[0]);
    let _ = teams;

    // The webhook function takes notifications for any registered tenant, each verified with
    // that tenant's own clientState (derived from the secret's), and nothing signed for another.
    let subscription = riskrelay::ids::SubscriptionId::from_uuid(uuid::Uuid::from_u128(0x5ab));
    riskrelay::store::save(
        &store,
        sims[1].tenant_id(),
        riskrelay::store::keys::SUBSCRIPTIONS,
        &riskrelay::source::subscriptions::CreatedWith([(subscription, "fp".to_string())].into()),
        None,
    )
    .await
    .unwrap();
    let e = riskrelay::config::Env::default().with("RISKRELAY_CLIENT_STATE", "e2e-client-state");
    let base =
        riskrelay::client_state::ClientStates::load(&riskrelay::config::EnvSecrets(&e)).unwrap();
    let signed_for = |sim: &Simulator| {
        use secrecy::ExposeSecret as _;
        base.for_tenant(sim.tenant_id())
            .current()
            .expose_secret()
            .to_string()
    };
    let notify = |client_state: String| {
        let mut event = fixture("furl-notifications");
        event["body"] = json!(
            json!({"value": [{
                "subscriptionId": subscription.to_string(),
                "changeType": "updated",
                "resource": format!("Users/{}", riskrelay_sim::testkit::uid(1)),
                "clientState": client_state,
                "tenantId": sims[1].tenant_id().to_string(),
            }]})
            .to_string()
        );
        event
    };
    let webhook = Function::start(env!("CARGO_BIN_EXE_webhook"), &env).await;
    let r = webhook.invoke(notify(signed_for(&sims[0]))).await.unwrap();
    assert_eq!(r["statusCode"], 202, "{r}");
    assert!(
        drain(&aws).await["Records"]
            .as_array()
            .is_none_or(|r| r.is_empty()),
        "Contoso's clientState passed for Fabrikam"
    );
    let r = webhook.invoke(notify(signed_for(&sims[1]))).await.unwrap();
    assert_eq!(r["statusCode"], 202, "{r}");
    let batch = drain(&aws).await;
    let records = batch["Records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{batch}");
    let item: Value = serde_json::from_str(records[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(item["tenantId"], sims[1].tenant_id().to_string());

    // The actions function serves every registered tenant: a link of Fabrikam's signs the
    // analyst in at Fabrikam's authority; one of a tenant not registered opens nothing.
    let public = "https://qrstuvwxyzabcdef.lambda-url.us-east-1.on.aws";
    env.push(("RISKRELAY_ACTIONS".into(), "confirm".into()));
    env.push(("RISKRELAY_ACTIONS_URL".into(), public.into()));
    let actions = Function::start(env!("CARGO_BIN_EXE_actions"), &env).await;
    let sign_in = |tenant| sign_in_event(public, tenant, riskrelay_sim::testkit::uid(1)).1;
    let r = actions.invoke(sign_in(sims[1].tenant_id())).await.unwrap();
    assert_eq!(r["statusCode"], 303, "{r}");
    let location = r["headers"]["location"].as_str().unwrap();
    assert!(
        location.starts_with(&format!(
            "{}{}/oauth2/v2.0/authorize?",
            sims[1].url(),
            sims[1].tenant_id()
        )),
        "{location}"
    );
    let stranger = riskrelay::ids::TenantId::from_uuid(uuid::Uuid::from_u128(0x5eed));
    let r = actions.invoke(sign_in(stranger)).await.unwrap();
    assert_eq!(r["statusCode"], 400, "{r}");
}
