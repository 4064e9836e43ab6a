//! The AWS path under load (not a test: `#[ignore]`, run by `scripts/aws-bench.sh`): the real
//! poller and worker binaries under the local Lambda Runtime API, with SQS, DynamoDB and Secrets
//! Manager on moto, the simulated tenant with Graph's 1 request/s identity-protection rule and a
//! slow `$batch`, and fake Slack and Teams. The benchmark plays Lambda's part: the schedule
//! invokes the poller, and the SQS event source hands the worker batches of up to `BatchSize`
//! (100) gathered for up to `MaximumBatchingWindowInSeconds` (5 s), to at most the worker's
//! reserved concurrency (2) at once, deleting what each batch did not report failed.
//!
//! Prints the time from the poller's first request to the last batch done, the Graph floor (the
//! identity-protection requests × riskrelay's spacing), their ratio, batches, failures, posts and
//! each function's peak memory. `RISKRELAY_BENCH_USERS` (default 1000),
//! `RISKRELAY_BENCH_BATCH_MS` (150), `RISKRELAY_BENCH_WORKERS` (2), `RISKRELAY_BENCH_BATCH` (100),
//! `RISKRELAY_BENCH_BIN_DIR` (where the function binaries are; default the test build's).
//!
//! The MSP mode's fan-out (`fanout_benchmark`): a tick of the poller queues one job per registered
//! tenant on the FIFO queue, and the tenant jobs function (the poller's binary, batch size 1) runs
//! them `RISKRELAY_BENCH_CONCURRENCY` (the template's `TenantConcurrency`, 50) at once. Prints each
//! tick's wall time from the tick to the last job done, and the identity-protection requests and
//! how many were throttled. `RISKRELAY_BENCH_TENANTS` (default 1000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use riskrelay_sim::{Chaos, SimConfig, Simulator};
use serde_json::{Value, json};

use crate::lambda_e2e::{Function, aws, chat_servers, env, fixture, posts, sqs_record};

/// riskrelay's spacing of identity-protection requests at 1 per second (1 s plus its margin).
const SPACING: Duration = Duration::from_millis(1050);
/// The template's worker event source: `MaximumBatchingWindowInSeconds`.
const WINDOW: Duration = Duration::from_secs(5);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Up to `max` messages from the queue, waiting at most `window` after the first for the batch to
/// fill, as Lambda's SQS event source does. Empty when the queue has nothing now.
async fn gather(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    max: usize,
) -> Vec<aws_sdk_sqs::types::Message> {
    let mut batch = Vec::new();
    let mut first: Option<Instant> = None;
    while batch.len() < max && first.is_none_or(|t| t.elapsed() < WINDOW) {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages((max - batch.len()).min(10) as i32)
            .visibility_timeout(720)
            .send()
            .await
            .unwrap();
        if out.messages().is_empty() {
            if first.is_none() {
                return batch;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        first.get_or_insert_with(Instant::now);
        batch.extend(out.messages().iter().cloned());
    }
    batch
}

/// A function binary: the release build's when `RISKRELAY_BENCH_BIN_DIR` names its directory.
fn binary(name: &str, test_build: &str) -> String {
    match std::env::var("RISKRELAY_BENCH_BIN_DIR") {
        Ok(dir) => format!("{dir}/{name}"),
        Err(_) => test_build.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/aws-bench.sh"]
async fn aws_path_benchmark() {
    let users = env_or("RISKRELAY_BENCH_USERS", 1000) as u32;
    let batch_ms = env_or("RISKRELAY_BENCH_BATCH_MS", 150);
    let workers = env_or("RISKRELAY_BENCH_WORKERS", 2) as usize;
    let batch_size = env_or("RISKRELAY_BENCH_BATCH", 100) as usize;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (slack, teams) = chat_servers().await;
    let aws = aws(&sim, &slack, &teams).await;
    let env = env(&sim, &aws);
    let poller =
        Arc::new(Function::start(&binary("poller", env!("CARGO_BIN_EXE_poller")), &env).await);
    // The template's poller timeout: a longer window is cut and caught up by the next tick.
    poller.set_timeout(Duration::from_secs(300));
    let mut pool = Vec::new();
    for _ in 0..workers {
        let w = Function::start(&binary("worker", env!("CARGO_BIN_EXE_worker")), &env).await;
        w.set_timeout(Duration::from_secs(120));
        pool.push(Arc::new(w));
    }

    // The baseline of an empty tenant.
    poller.invoke(fixture("schedule-poll")).await.unwrap();
    let batch = gather(&aws.sqs, &aws.queue_url, batch_size).await;
    let records: Vec<Value> = batch
        .iter()
        .map(|m| sqs_record(m.message_id().unwrap(), m.body().unwrap()))
        .collect();
    pool[0].invoke(json!({ "Records": records })).await.unwrap();
    for m in &batch {
        aws.sqs
            .delete_message()
            .queue_url(&aws.queue_url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }

    riskrelay_sim::scenario::bench_users(&sim, users, 0, time::OffsetDateTime::now_utc());
    sim.enforce_rate_limit(true);
    sim.set_chaos(Some(Chaos {
        rate: 0.0,
        batch_delay: Duration::from_millis(batch_ms),
    }));
    let posts_before = posts(&slack).await + posts(&teams).await;
    sim.clear_requests();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let started = Instant::now();
    // The schedule: the poller again at once while its window was cut short.
    let ticks = {
        let poller = poller.clone();
        tokio::spawn(async move {
            let mut ticks = 0;
            loop {
                ticks += 1;
                match poller.invoke(fixture("schedule-poll")).await {
                    Ok(r) if r["enqueued"].as_u64().is_some() => {
                        return (ticks, r, started.elapsed());
                    }
                    other => assert!(ticks < 10, "the poller did not catch up: {other:?}"),
                }
            }
        })
    };
    // The event source: batches to idle workers, as many at once as the pool.
    let mut idle: Vec<Arc<Function>> = pool.clone();
    let mut running = tokio::task::JoinSet::new();
    let (mut batches, mut failed, mut largest) = (0usize, 0usize, 0usize);
    let mut last_done = started;
    let mut batch_times: Vec<Duration> = Vec::new();
    loop {
        if idle.is_empty() {
            let (w, f, took): (Arc<Function>, usize, Duration) =
                running.join_next().await.unwrap().unwrap();
            failed += f;
            batch_times.push(took);
            last_done = Instant::now();
            idle.push(w);
        }
        let batch = gather(&aws.sqs, &aws.queue_url, batch_size).await;
        if batch.is_empty() {
            if ticks.is_finished() && running.is_empty() {
                break;
            }
            if let Ok(Some(done)) =
                tokio::time::timeout(Duration::from_millis(200), running.join_next()).await
            {
                let (w, f, took) = done.unwrap();
                failed += f;
                batch_times.push(took);
                last_done = Instant::now();
                idle.push(w);
            }
            continue;
        }
        batches += 1;
        largest = largest.max(batch.len());
        let worker = idle.pop().unwrap();
        let sqs = aws.sqs.clone();
        let url = aws.queue_url.clone();
        running.spawn(async move {
            let records: Vec<Value> = batch
                .iter()
                .map(|m| sqs_record(m.message_id().unwrap(), m.body().unwrap()))
                .collect();
            let began = Instant::now();
            let out = worker.invoke(json!({ "Records": records })).await.unwrap();
            let took = began.elapsed();
            let failures: Vec<String> = out["batchItemFailures"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            // As Lambda does: what the batch did not report failed is deleted, ten a call.
            let done: Vec<_> = batch
                .iter()
                .filter(|m| !failures.iter().any(|f| Some(f.as_str()) == m.message_id()))
                .collect();
            for chunk in done.chunks(10) {
                let entries = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(m.receipt_handle().unwrap())
                            .build()
                            .unwrap()
                    })
                    .collect();
                sqs.delete_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .unwrap();
            }
            if std::env::var_os("RISKRELAY_BENCH_TIMELINE").is_some() {
                println!(
                    "batch of {} from {:.1} s to {:.1} s",
                    batch.len(),
                    (began - started).as_secs_f64(),
                    started.elapsed().as_secs_f64()
                );
            }
            (worker, failures.len(), took)
        });
    }
    let wall = last_done - started;
    let (ticks, report, polled) = ticks.await.unwrap();
    let mean_batch = batch_times.iter().sum::<Duration>() / batch_times.len().max(1) as u32;
    let max_batch = batch_times.iter().max().copied().unwrap_or_default();

    let ip = sim.identity_protection_requests();
    let throttled = ip.iter().filter(|r| r.status == 429).count();
    let floor = SPACING * ip.len() as u32;
    let posted = posts(&slack).await + posts(&teams).await - posts_before;
    let rss = |f: &Function| f.peak_rss_kib().map_or(0.0, |k| k as f64 / 1024.0);
    let worker_rss = pool.iter().map(|w| rss(w)).fold(0.0, f64::max);
    println!(
        "\naws-bench: users {users}, $batch latency {batch_ms} ms, workers {workers}, batch {batch_size}: wall {:.1} s, floor {:.1} s ({} identity-protection requests, {throttled} throttled), wall/floor {:.2}, poller invocations {ticks} done at {:.1} s, enqueued {}, worker batches {batches} (largest {largest}, {:.1} s each on average, longest {:.1} s), items failed {failed}, posts {posted}, peak RSS poller {:.1} MiB, worker {:.1} MiB",
        wall.as_secs_f64(),
        floor.as_secs_f64(),
        ip.len(),
        wall.as_secs_f64() / floor.as_secs_f64(),
        polled.as_secs_f64(),
        report["enqueued"],
        mean_batch.as_secs_f64(),
        max_batch.as_secs_f64(),
        rss(&poller),
        worker_rss,
    );
    assert_eq!(failed, 0, "the worker's log: {}", pool[0].stderr());
    assert_eq!(throttled, 0);
}

/// Makes a received message visible again at once (no instance was free to take it).
async fn give_back(sqs: &aws_sdk_sqs::Client, url: &str, m: &aws_sdk_sqs::types::Message) {
    sqs.change_message_visibility()
        .queue_url(url)
        .receipt_handle(m.receipt_handle().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/aws-bench.sh fanout"]
async fn fanout_benchmark() {
    let tenants = env_or("RISKRELAY_BENCH_TENANTS", 1000) as usize;
    let concurrency = env_or("RISKRELAY_BENCH_CONCURRENCY", 50) as usize;
    let sims = Simulator::start_many((0..tenants).map(SimConfig::tenant).collect())
        .await
        .unwrap();
    for sim in &sims {
        sim.enforce_rate_limit(true);
    }
    let (slack, teams) = chat_servers().await;
    let aws = aws(&sims[0], &slack, &teams).await;
    let config = riskrelay_sim::testkit::aws_config().await;
    let jobs_url = crate::lambda_e2e::create_queue(
        &aws.sqs,
        &format!("{}.fifo", riskrelay_sim::testkit::unique("riskrelay-jobs")),
        true,
    )
    .await;
    let store = riskrelay::store::dynamo::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        aws.table.clone(),
    );
    let records = sims
        .iter()
        .enumerate()
        .map(|(i, sim)| riskrelay::tenancy::TenantRecord {
            id: sim.tenant_id(),
            name: format!("Customer {i:04}"),
            sinks: Vec::new(),
            drift_mode: None,
            exclude: None,
            summary: None,
            added_at: time::OffsetDateTime::now_utc(),
        })
        .collect();
    riskrelay::fleet::import(&store, records).await.unwrap();
    let mut env = env(&sims[0], &aws);
    env.push(("RISKRELAY_TENANTS".into(), "registry".into()));
    env.push(("RISKRELAY_TENANT_JOBS_QUEUE_URL".into(), jobs_url.clone()));
    let poller = binary("poller", env!("CARGO_BIN_EXE_poller"));
    let scheduled = Function::start(&poller, &env).await;
    let mut pool = Vec::new();
    for _ in 0..concurrency {
        let f = Function::start(&poller, &env).await;
        f.set_timeout(Duration::from_secs(300));
        pool.push(Arc::new(f));
    }

    for tick in ["baselines", "steady"] {
        for sim in &sims {
            sim.clear_requests();
        }
        let started = Instant::now();
        let r = scheduled.invoke(fixture("schedule-poll")).await.unwrap();
        assert_eq!(r["queued"], tenants, "{r}");
        let queued = started.elapsed();
        // The FIFO event source with batch size 1: each job its own invocation, at most the pool
        // at once.
        let mut idle = pool.clone();
        let mut running = tokio::task::JoinSet::new();
        let (mut done, mut failed) = (0usize, 0usize);
        let mut last = started;
        while done < tenants {
            let received = aws
                .sqs
                .receive_message()
                .queue_url(&jobs_url)
                .max_number_of_messages(idle.len().clamp(1, 10) as i32)
                .visibility_timeout(600)
                .send()
                .await
                .unwrap();
            let messages = received.messages().to_vec();
            if messages.is_empty() || idle.is_empty() {
                if let Ok(Some(finished)) =
                    tokio::time::timeout(Duration::from_millis(100), running.join_next()).await
                {
                    let (f, ok): (Arc<Function>, bool) = finished.unwrap();
                    done += 1;
                    failed += usize::from(!ok);
                    last = Instant::now();
                    idle.push(f);
                }
                // Messages taken while no instance was free go back at once.
                for m in &messages {
                    give_back(&aws.sqs, &jobs_url, m).await;
                }
                continue;
            }
            for m in messages {
                let Some(f) = idle.pop() else {
                    give_back(&aws.sqs, &jobs_url, &m).await;
                    continue;
                };
                let sqs = aws.sqs.clone();
                let url = jobs_url.clone();
                running.spawn(async move {
                    let record = sqs_record(m.message_id().unwrap(), m.body().unwrap());
                    let r = f.invoke(json!({ "Records": [record] })).await;
                    let ok = r.as_ref().is_ok_and(|r| r["jobs"][0]["result"] == "done");
                    sqs.delete_message()
                        .queue_url(&url)
                        .receipt_handle(m.receipt_handle().unwrap())
                        .send()
                        .await
                        .unwrap();
                    (f, ok)
                });
            }
        }
        let wall = last - started;
        let (mut ip, mut throttled) = (0usize, 0usize);
        for r in sims
            .iter()
            .flat_map(Simulator::identity_protection_requests)
        {
            ip += 1;
            throttled += usize::from(r.status == 429);
        }
        let rss = pool
            .iter()
            .filter_map(|f| f.peak_rss_kib())
            .max()
            .unwrap_or(0) as f64
            / 1024.0;
        println!(
            "\nfanout-bench: {tenants} tenants, {concurrency} at once, tick {tick}: wall {:.1} s ({:.1} s to queue the jobs), jobs failed {failed}, identity-protection requests {ip}, throttled {throttled}, peak RSS per instance {rss:.1} MiB",
            wall.as_secs_f64(),
            queued.as_secs_f64(),
        );
        assert_eq!(throttled, 0);
        assert_eq!(failed, 0, "{}", pool[0].stderr());
    }
}
