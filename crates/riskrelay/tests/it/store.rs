//! One conformance suite for every store adapter: memory, SQLite, and DynamoDB on moto.

use std::sync::Arc;

use riskrelay::ids::TenantId;
use riskrelay::store::dynamo::DynamoStore;
use riskrelay::store::memory::MemoryStore;
use riskrelay::store::sqlite::SqliteStore;
use riskrelay::store::{CLAIM_LEASE, Claim, Store, StoreError};
use serde_json::json;
use time::OffsetDateTime;

use riskrelay_sim::testkit::{answer, dynamo_store, unique};

fn tenant() -> TenantId {
    TenantId::parse(riskrelay_sim::testkit::TENANT).unwrap()
}

async fn conformance(store: Arc<dyn Store>) {
    let t = tenant();
    let key = unique("doc");
    // Documents: optimistic concurrency.
    assert_eq!(store.get(t, &key).await.unwrap(), None);
    assert!(store.put(t, &key, &json!({"n": 1}), None).await.unwrap());
    assert!(
        !store.put(t, &key, &json!({"n": 99}), None).await.unwrap(),
        "create over an existing document"
    );
    assert_eq!(
        store.get(t, &key).await.unwrap(),
        Some((json!({"n": 1}), 1))
    );
    assert!(store.put(t, &key, &json!({"n": 2}), Some(1)).await.unwrap());
    assert!(
        !store.put(t, &key, &json!({"n": 3}), Some(1)).await.unwrap(),
        "a stale version must not win"
    );
    assert_eq!(
        store.get(t, &key).await.unwrap(),
        Some((json!({"n": 2}), 2))
    );
    let other = TenantId::parse("99999999-8888-7777-6666-555555555555").unwrap();
    assert_eq!(
        store.get(other, &key).await.unwrap(),
        None,
        "documents are per tenant"
    );

    // Grouped writes keep each write's own condition: one stale write loses alone.
    let fresh = unique("doc");
    let written = store
        .put_many(
            t,
            &[
                (fresh.clone(), json!({"n": 10}), None),
                (key.clone(), json!({"n": 98}), Some(1)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(written, [true, false]);
    let written = store
        .put_many(
            t,
            &[
                (fresh.clone(), json!({"n": 11}), Some(1)),
                (key.clone(), json!({"n": 3}), Some(2)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(written, [true, true]);
    assert_eq!(
        store.get(t, &fresh).await.unwrap(),
        Some((json!({"n": 11}), 2))
    );
    assert_eq!(
        store.get(t, &key).await.unwrap(),
        Some((json!({"n": 3}), 3))
    );

    // Listing: a prefix's documents in key order, a page at a time, nothing of another prefix or
    // tenant; "prefix%" is matched as text, not as a pattern.
    let prefix = format!("{}/", unique("list"));
    for n in [4, 0, 6, 2, 1, 5, 3] {
        assert!(
            store
                .put(t, &format!("{prefix}{n}"), &json!(n), None)
                .await
                .unwrap()
        );
    }
    assert!(
        store
            .put(t, &format!("{prefix}%x"), &json!("odd"), None)
            .await
            .unwrap()
    );
    assert!(
        store
            .put(
                t,
                &format!("{}x", &prefix[..prefix.len() - 1]),
                &json!("no"),
                None
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .put(other, &format!("{prefix}9"), &json!(9), None)
            .await
            .unwrap()
    );
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list(t, &prefix, after.as_deref(), 3).await.unwrap();
        assert!(page.docs.len() <= 3);
        pages.push(
            page.docs
                .iter()
                .map(|(_, v, _)| v.clone())
                .collect::<Vec<_>>(),
        );
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let listed: Vec<serde_json::Value> = pages.concat();
    assert_eq!(
        listed,
        [
            json!("odd"),
            json!(0),
            json!(1),
            json!(2),
            json!(3),
            json!(4),
            json!(5),
            json!(6)
        ]
    );
    assert!(pages.len() >= 3, "{pages:?}");
    assert!(
        store
            .list(t, &unique("none"), None, 3)
            .await
            .unwrap()
            .docs
            .is_empty()
    );
    let page = store.list(t, &prefix, None, 100).await.unwrap();
    assert_eq!((page.docs.len(), page.next), (8, None));
    assert_eq!(page.docs[1].0, format!("{prefix}0"));
    assert_eq!(page.docs[1].2, 1, "each with its version");

    // Deliveries: claim, complete, release, lease expiry.
    let now = OffsetDateTime::now_utc();
    let alert = unique("alert");
    assert_eq!(
        store.claim_delivery(&alert, "slack", now).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        store.claim_delivery(&alert, "slack", now).await.unwrap(),
        Claim::InProgress
    );
    assert_eq!(
        store.claim_delivery(&alert, "teams", now).await.unwrap(),
        Claim::Claimed,
        "per sink"
    );
    store.complete_delivery(&alert, "slack", now).await.unwrap();
    assert_eq!(
        store.claim_delivery(&alert, "slack", now).await.unwrap(),
        Claim::Done
    );
    store.release_delivery(&alert, "slack").await.unwrap();
    assert_eq!(
        store.claim_delivery(&alert, "slack", now).await.unwrap(),
        Claim::Done,
        "release never undoes a delivery"
    );
    store.release_delivery(&alert, "teams").await.unwrap();
    assert_eq!(
        store.claim_delivery(&alert, "teams", now).await.unwrap(),
        Claim::Claimed,
        "released claims can be retaken"
    );
    let later = now + CLAIM_LEASE + time::Duration::seconds(1);
    assert_eq!(
        store.claim_delivery(&alert, "teams", later).await.unwrap(),
        Claim::Claimed,
        "an abandoned claim lapses"
    );

    // A race: many workers claim the same delivery at once; exactly one wins.
    let raced = unique("raced");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        let k = raced.clone();
        tasks.push(tokio::spawn(async move {
            s.claim_delivery(&k, "slack", now).await.unwrap()
        }));
    }
    let mut claimed = 0;
    for t in tasks {
        if t.await.unwrap() == Claim::Claimed {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1);

    // Grouped claims and records (a digest's alerts) decide each alert as one claim would.
    let (a, b) = (unique("alert"), unique("alert"));
    store.complete_delivery(&b, "slack", now).await.unwrap();
    let keys = [a.clone(), b.clone()];
    assert_eq!(
        store.claim_deliveries(&keys, "slack", now).await.unwrap(),
        [Claim::Claimed, Claim::Done]
    );
    assert_eq!(
        store.claim_deliveries(&keys, "slack", now).await.unwrap(),
        [Claim::InProgress, Claim::Done]
    );
    store
        .complete_deliveries(&keys, "slack", now)
        .await
        .unwrap();
    assert_eq!(
        store.claim_deliveries(&keys, "slack", now).await.unwrap(),
        [Claim::Done, Claim::Done]
    );

    // Past the adapters' call sizes (DynamoDB: 100 claims a transaction, 25 records a batch
    // write): every alert decided, a lapsed lease among them taken over.
    let many: Vec<String> = (0..130).map(|_| unique("alert")).collect();
    let lapsed = now - CLAIM_LEASE - std::time::Duration::from_secs(1);
    assert_eq!(
        store
            .claim_delivery(&many[70], "slack", lapsed)
            .await
            .unwrap(),
        Claim::Claimed
    );
    let claims = store.claim_deliveries(&many, "slack", now).await.unwrap();
    assert!(claims.iter().all(|c| *c == Claim::Claimed), "{claims:?}");
    store
        .complete_deliveries(&many, "slack", now)
        .await
        .unwrap();
    let claims = store.claim_deliveries(&many, "slack", now).await.unwrap();
    assert!(claims.iter().all(|c| *c == Claim::Done), "{claims:?}");

    // Grouped reads: in the order asked, absent ones as such, past 100 keys a call.
    let keys: Vec<String> = (0..150).map(|n| format!("{prefix}many/{n}")).collect();
    let docs: Vec<(String, serde_json::Value, Option<u64>)> = keys
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 3 != 0)
        .map(|(n, k)| (k.clone(), json!(n), None))
        .collect();
    assert!(store.put_many(t, &docs).await.unwrap().iter().all(|w| *w));
    let read = store.get_many(t, &keys).await.unwrap();
    assert_eq!(read.len(), 150);
    for (n, doc) in read.iter().enumerate() {
        match doc {
            None => assert_eq!(n % 3, 0, "{n} is stored"),
            Some((v, version)) => assert_eq!((v, *version), (&json!(n), 1)),
        }
    }
    assert!(store.get_many(t, &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn memory_store() {
    conformance(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn sqlite_store_and_persistence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("riskrelay.sqlite");
    conformance(Arc::new(SqliteStore::open(&path).unwrap())).await;
    {
        let s = SqliteStore::open(&path).unwrap();
        assert!(s.put(tenant(), "kept", &json!(true), None).await.unwrap());
        s.complete_delivery("kept-alert", "slack", OffsetDateTime::now_utc())
            .await
            .unwrap();
    }
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(
        reopened.get(tenant(), "kept").await.unwrap(),
        Some((json!(true), 1))
    );
    assert_eq!(
        reopened
            .claim_delivery("kept-alert", "slack", OffsetDateTime::now_utc())
            .await
            .unwrap(),
        Claim::Done
    );
}

#[tokio::test]
async fn dynamodb_store_on_moto() {
    conformance(Arc::new(dynamo_store().await)).await;
}

#[tokio::test]
async fn dynamodb_race_two_workers_deliver_the_same_alert_once() {
    use wiremock::{MockServer, ResponseTemplate};
    let slack = MockServer::start().await;
    answer(
        &slack,
        riskrelay_sim::testkit::SLACK_PATH,
        ResponseTemplate::new(200)
            .set_body_string("ok")
            .set_delay(std::time::Duration::from_millis(100)),
        None,
        Some(1),
    )
    .await;
    let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
    let sinks = || {
        riskrelay::sink::build(
            &[riskrelay_sim::testkit::slack_sink(
                &slack,
                riskrelay::risk::RiskLevel::Low,
            )],
            riskrelay::sink::Http {
                client: reqwest::Client::new(),
                timeout: riskrelay::http::CHAT_TIMEOUT,
            },
        )
    };
    let kinds = || riskrelay::alert::AlertKind::ALL.into_iter().collect();
    let a = riskrelay::deliver::Delivery::new(store.clone(), sinks(), kinds(), 10);
    let b = riskrelay::deliver::Delivery::new(store, sinks(), kinds(), 10);
    let m = [riskrelay::alert::Message::User(Box::new(
        riskrelay_sim::testkit::samples::user_alert(riskrelay::alert::Change::NewRisk, "Race"),
    ))];
    let now = OffsetDateTime::now_utc();
    let (ra, rb) = tokio::join!(a.deliver(&m, now), b.deliver(&m, now));
    assert_eq!(ra.posted.len() + rb.posted.len(), 1, "{ra:?} {rb:?}");
}

#[tokio::test]
async fn dynamodb_unavailable_is_an_error_not_a_panic() {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "t");
    let err = store.get(tenant(), "x").await.unwrap_err();
    assert!(
        err.to_string().starts_with("the store is unavailable"),
        "{err}"
    );
}

/// The poller and the worker functions are separate processes of one tenant: built as the
/// composition root builds them, over one DynamoDB table, their identity-protection requests
/// together stay a second apart (the simulator answers 429 to any closer pair, as Graph does).
#[tokio::test]
async fn the_poller_and_worker_functions_share_one_identity_protection_budget() {
    use riskrelay::app::{Adapters, Parts, PollerParts, Settings, WorkerParts};
    use riskrelay_sim::{SimConfig, SimUser, Simulator};
    let sim = Simulator::start(SimConfig {
        enforce_rate_limit: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let users: Vec<_> = (0..3u128)
        .map(|n| {
            sim.add_user(SimUser::new(
                riskrelay_sim::testkit::uid(n),
                "Budget",
                "budget",
            ))
        })
        .collect();
    let mut graph = sim.graph_config();
    graph.identity_protection_rps = 1.0;
    // No retries: a 429 would fail the read.
    graph.retry = riskrelay_sim::testkit::fast_retry(1);
    let settings = Settings::with_graph(graph);
    let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
    let queue: Arc<dyn riskrelay::queue::Queue> =
        Arc::new(riskrelay_sim::testkit::RecordingQueue::default());
    let adapters = || Adapters::new(store.clone()).with_queue(queue.clone());
    let poller = PollerParts::build(&settings, adapters())
        .unwrap()
        .graph
        .clone();
    let worker = WorkerParts::build(&settings, adapters())
        .unwrap()
        .graph
        .clone();
    let reads = |g: riskrelay::graph::GraphClient| {
        let users = users.clone();
        async move {
            for u in users {
                g.risky_user(u).await.unwrap();
            }
        }
    };
    tokio::join!(reads(poller), reads(worker));
    let statuses: Vec<u16> = sim
        .requests()
        .iter()
        .filter(|r| r.path.contains("/identityProtection/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.len(), 6);
    assert!(
        !statuses.contains(&429),
        "no two requests less than a second apart: {statuses:?}"
    );
}

/// A store that dies in the middle of a grouped write, as a process killed between two of its
/// chunks would: the first half of the documents is written, the rest is not, and the caller hears
/// nothing but an error.
struct DiesMidWrite {
    inner: Arc<dyn Store>,
    died: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Store for DiesMidWrite {
    async fn get(
        &self,
        tenant: riskrelay::ids::TenantId,
        key: &str,
    ) -> Result<Option<(serde_json::Value, u64)>, StoreError> {
        self.inner.get(tenant, key).await
    }
    async fn put(
        &self,
        tenant: riskrelay::ids::TenantId,
        key: &str,
        value: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<bool, StoreError> {
        self.inner.put(tenant, key, value, expected).await
    }
    async fn list(
        &self,
        tenant: riskrelay::ids::TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<riskrelay::store::Listed, riskrelay::store::StoreError> {
        self.inner.list(tenant, prefix, after, limit).await
    }
    async fn claim_delivery(
        &self,
        key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<Claim, StoreError> {
        self.inner.claim_delivery(key, sink, now).await
    }
    async fn complete_delivery(
        &self,
        key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.inner.complete_delivery(key, sink, now).await
    }
    async fn release_delivery(&self, key: &str, sink: &str) -> Result<(), StoreError> {
        self.inner.release_delivery(key, sink).await
    }
    async fn put_many(
        &self,
        tenant: riskrelay::ids::TenantId,
        docs: &[(String, serde_json::Value, Option<u64>)],
    ) -> Result<Vec<bool>, StoreError> {
        if docs.len() > 1 && !self.died.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.inner.put_many(tenant, &docs[..docs.len() / 2]).await?;
            return Err(StoreError::Unavailable("the process died mid-write".into()));
        }
        self.inner.put_many(tenant, docs).await
    }
}

/// A crash in the middle of a cycle's grouped state write, then a restart over the same store:
/// the alerts posted before the crash are not posted again, the states not written are written,
/// and each alert reaches each destination exactly once.
#[tokio::test]
async fn a_crash_in_the_middle_of_a_grouped_write_then_a_restart_delivers_each_alert_once() {
    use riskrelay::risk::{DetectionTimingType, RiskLevel};
    use riskrelay_sim::{DetectionSpec, SimUser};
    let mut t = riskrelay_sim::testkit::TestApp::start().await;
    t.ok_sinks().await;
    // Teams only: no pace to wait for; a digest threshold above the batch, so one post per user.
    t.settings.alerts.sinks = vec![riskrelay_sim::testkit::teams_sink(&t.teams, RiskLevel::Low)];
    t.settings.alerts.digest_threshold = 100;
    t.save_posture(OffsetDateTime::now_utc()).await;
    let mut items = Vec::new();
    let mut names = Vec::new();
    for n in 0..12u128 {
        let name = format!("Crash Victim {n:02}");
        let id = t.sim.add_user(SimUser::new(
            riskrelay_sim::testkit::uid(700 + n),
            &name,
            &format!("crash{n:02}"),
        ));
        t.sim.detect(
            id,
            DetectionSpec::new(
                "passwordSpray",
                "signin",
                RiskLevel::Medium,
                DetectionTimingType::Offline,
            ),
        );
        // As the poller hands them on: with the data it read, so no Graph read is needed.
        items.push(riskrelay_sim::testkit::polled(&t.sim, id, "crash"));
        names.push((id, name));
    }
    let inner: Arc<dyn Store> = t.store.clone();
    let dying: Arc<dyn Store> = Arc::new(DiesMidWrite {
        inner: inner.clone(),
        died: Default::default(),
    });
    let build = |store: Arc<dyn Store>| {
        <riskrelay::app::WorkerParts as riskrelay::app::Parts>::build(
            &t.settings,
            riskrelay::app::Adapters::new(store),
        )
        .unwrap()
        .worker
    };

    let first = build(dying).process(&items).await;
    assert!(
        first.results.iter().any(Result::is_err),
        "the crash fails the items whose state was not written"
    );
    assert_eq!(
        t.posts().await.1,
        12,
        "everything was posted before the crash"
    );
    let tenant = t.sim.tenant_id();
    let saved = |id| {
        let inner = inner.clone();
        async move {
            inner
                .get(tenant, &riskrelay::store::keys::user(id))
                .await
                .unwrap()
                .is_some()
        }
    };
    let mut written = 0;
    for (id, _) in &names {
        written += usize::from(saved(*id).await);
    }
    assert_eq!(written, 6, "half the states were written");

    // The restart: a new worker over the same store, given the same items again (the queue's
    // retry, or the next cycle re-reading the window).
    let second = build(inner.clone()).process(&items).await;
    assert!(
        second.results.iter().all(Result::is_ok),
        "{:?}",
        second.results
    );
    for (id, _) in &names {
        assert!(saved(*id).await, "{id:?} has its state after the restart");
    }
    let bodies = riskrelay_sim::testkit::received_text(&t.teams).await;
    for (_, name) in &names {
        let times = bodies.iter().filter(|b| b.contains(name.as_str())).count();
        assert_eq!(times, 1, "{name} posted {times} times");
    }
}
