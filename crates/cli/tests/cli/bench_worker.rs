//! The worker's DynamoDB benchmark (not a test: `#[ignore]`, run by `scripts/worker-bench.sh`): N
//! changed users, polled with their data attached as the poller hands them over, through the
//! worker in SQS-sized batches (the template's `BatchSize: 100`) over the DynamoDB store on moto.
//! Every DynamoDB request the SDK sends is counted by operation at the client (an interceptor),
//! so the figure is the wire's, not the store port's. Prints the requests per changed user, by
//! operation, and the wall time.
//!
//! `RISKRELAY_BENCH_USERS` (default 2000), `RISKRELAY_BENCH_BATCH` (default 100).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use riskrelay::app::{Adapters, Parts, WorkerParts};
use riskrelay::risk::{DetectionTimingType, RiskLevel};
use riskrelay::store::Store;
use riskrelay_sim::testkit::{TestApp, polled, uid, unique};
use riskrelay_sim::{DetectionSpec, SimUser};

/// DynamoDB requests by operation (`X-Amz-Target`): how many, and the time on the wire.
#[derive(Debug, Default, Clone)]
struct Requests(Arc<Mutex<BTreeMap<String, (u64, std::time::Duration)>>>);

/// When a request went out, and its operation, kept in the request's own config bag.
#[derive(Debug, Clone)]
struct Sent(Instant, String);

impl aws_smithy_types::config_bag::Storable for Sent {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "count DynamoDB requests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let op = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("?")
            .to_string();
        cfg.interceptor_state().store_put(Sent(Instant::now(), op));
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Some(Sent(at, op)) = cfg.load::<Sent>() {
            let mut by_op = self.0.lock().unwrap();
            let e = by_op.entry(op.clone()).or_default();
            e.0 += 1;
            e.1 += at.elapsed();
        }
        Ok(())
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test]
#[ignore = "a benchmark: scripts/worker-bench.sh"]
async fn worker_dynamodb_benchmark() {
    let users = env_or("RISKRELAY_BENCH_USERS", 2000);
    let batch = env_or("RISKRELAY_BENCH_BATCH", 100);
    let t = TestApp::start().await;
    t.ok_sinks().await;
    let counted = Requests::default();
    let conf = aws_sdk_dynamodb::config::Builder::from(&riskrelay_sim::testkit::aws_config().await)
        .interceptor(counted.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    let table = unique("riskrelay-bench");
    riskrelay::store::dynamo::DynamoStore::create_table(&client, &table)
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(riskrelay::store::dynamo::DynamoStore::new(client, table));
    let worker = WorkerParts::build(&t.settings, Adapters::new(store))
        .unwrap()
        .worker;
    let mut items = Vec::with_capacity(users);
    for n in 0..users {
        let id = t.sim.add_user(SimUser::new(
            uid(10_000 + n as u128),
            &format!("Bench User {n}"),
            &format!("bench{n}"),
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
        items.push(polled(&t.sim, id, "bench"));
    }
    counted.0.lock().unwrap().clear();
    let started = Instant::now();
    for chunk in items.chunks(batch) {
        let report = worker.process(chunk).await;
        assert!(
            report.results.iter().all(Result::is_ok),
            "{:?}",
            report.results
        );
    }
    let wall = started.elapsed();
    let by_op = counted.0.lock().unwrap().clone();
    let total: u64 = by_op.values().map(|(n, _)| n).sum();
    println!(
        "worker-bench: {users} changed users in batches of {batch}: {total} DynamoDB requests, {:.2} per changed user; wall {:.1} s",
        total as f64 / users as f64,
        wall.as_secs_f64()
    );
    for (op, (n, wire)) in by_op {
        println!(
            "worker-bench:   {op}: {n} ({:.3} per user), {:.1} s waiting for DynamoDB",
            n as f64 / users as f64,
            wire.as_secs_f64()
        );
    }
}
