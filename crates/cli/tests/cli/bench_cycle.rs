//! The cycle benchmark (not a test: `#[ignore]`, run by `scripts/cycle-bench.sh`): one
//! `riskrelay run --once` over N changed users with 3 detections each, against the simulated
//! tenant with Graph's 1 request per second identity-protection rule on and a settable `$batch`
//! latency. Prints wall time, the Graph floor (identity-protection requests × the spacing), their
//! ratio, the tail after the last identity-protection read, peak memory, `$batch` count and posts
//! per destination.
//!
//! `RISKRELAY_BENCH_USERS` (default 1000), `RISKRELAY_BENCH_BATCH_MS` (150),
//! `RISKRELAY_BENCH_CONCURRENCY` (`$batch`es in flight; riskrelay's default),
//! `RISKRELAY_BENCH_LATE` (how many of the users have their detections from before the poll window,
//! so their alerts need a read of their open detections; default 0),
//! `RISKRELAY_BENCH_BATCH_DOWN` (1: every `$batch` answers 503, an enrichment outage),
//! `RISKRELAY_BENCH_BIN` (the riskrelay binary to measure; default the test build's),
//! `RISKRELAY_BENCH_WORKLOADS` (`RISKRELAY_WORKLOAD_RISK` for the run: which workload identities'
//! risk the cycle reads too; riskrelay's default, both kinds, when unset).

use std::time::{Duration, Instant};

use riskrelay_sim::{Chaos, SimConfig, Simulator};
use wiremock::MockServer;

use riskrelay_sim::testkit::{SLACK_PATH, TEAMS_PATH};

/// riskrelay's spacing of identity-protection requests at 1 per second (1 s plus its margin).
const SPACING: Duration = Duration::from_millis(1050);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test]
#[ignore = "a benchmark: scripts/cycle-bench.sh"]
async fn cycle_benchmark() {
    let users = env_or("RISKRELAY_BENCH_USERS", 1000) as u32;
    let batch_ms = env_or("RISKRELAY_BENCH_BATCH_MS", 150);
    let late = env_or("RISKRELAY_BENCH_LATE", 0) as u32;
    let batch_down = env_or("RISKRELAY_BENCH_BATCH_DOWN", 0) == 1;
    let bin = std::env::var("RISKRELAY_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_riskrelay").to_string());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("riskrelay.sqlite");
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let slack = MockServer::start().await;
    riskrelay_sim::testkit::ok_slack(&slack).await;
    let teams = MockServer::start().await;
    riskrelay_sim::testkit::ok_teams(&teams).await;

    let run = || {
        let mut cmd = crate::run::once(&bin, &sim, &db);
        cmd.env(
            "RISKRELAY_SLACK_WEBHOOK_URL",
            format!("{}{SLACK_PATH}", slack.uri()),
        )
        .env(
            "RISKRELAY_TEAMS_WEBHOOK_URL",
            format!("{}{TEAMS_PATH}?sig=bench", teams.uri()),
        )
        // One cycle, however long its Graph floor: the benchmark measures it whole.
        .env("RISKRELAY_JOB_DEADLINE_MINUTES", "240")
        .env(
            "RISKRELAY_GRAPH_BATCH_CONCURRENCY",
            env_or(
                "RISKRELAY_BENCH_CONCURRENCY",
                riskrelay::graph::config::DEFAULT_BATCH_CONCURRENCY as u64,
            )
            .to_string(),
        );
        if let Ok(kinds) = std::env::var("RISKRELAY_BENCH_WORKLOADS") {
            cmd.env("RISKRELAY_WORKLOAD_RISK", kinds);
        }
        cmd
    };
    assert!(run().status().await.unwrap().success(), "baseline run");

    // Detections from before the window: offline ones that surfaced late, stamped two days ago.
    let before_window = time::OffsetDateTime::now_utc() - time::Duration::hours(49);
    riskrelay_sim::scenario::bench_users(&sim, users, late, before_window);
    sim.enforce_rate_limit(true);
    if batch_down {
        sim.fail(riskrelay_sim::Fault::status("$batch", 503, usize::MAX));
    }
    sim.set_chaos(Some(Chaos {
        rate: 0.0,
        batch_delay: Duration::from_millis(batch_ms),
    }));
    sim.clear_requests();
    // The baseline run's last identity-protection request must not count against this one.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let (status, wall, peak) = crate::run::measured(run()).await;
    let ended = Instant::now();
    assert!(status.success(), "the measured run failed");

    let requests = sim.requests();
    let ip = sim.identity_protection_requests();
    let throttled = ip.iter().filter(|r| r.status == 429).count();
    for (i, r) in ip.iter().enumerate() {
        if r.status == 429 {
            let before = i
                .checked_sub(1)
                .map(|j| (ip[j].path.clone(), r.at - ip[j].at));
            println!("throttled: {} (after {before:?})", r.path);
        }
    }
    let floor = SPACING * ip.len() as u32;
    let tail = ip
        .iter()
        .map(|r| r.at)
        .max()
        .map_or(Duration::ZERO, |last| ended - last);
    let batches = requests
        .iter()
        .filter(|r| r.path.ends_with("/$batch"))
        .count();
    let slack_posts = slack.received_requests().await.unwrap().len();
    let teams_posts = teams.received_requests().await.unwrap().len();
    // Reads of one user's open detections (the late-detection reads).
    let late_reads = requests
        .iter()
        .filter(|r| {
            r.query
                .as_deref()
                .is_some_and(|q| q.contains("userId") && q.contains("atRisk"))
        })
        .count();
    println!(
        "\ncycle-bench: users {users}, late {late}, $batch down {batch_down}, late-detection reads {late_reads}"
    );
    println!(
        "\ncycle-bench: users {users}, $batch latency {batch_ms} ms, concurrency {}: wall {:.1} s, floor {:.1} s ({} identity-protection requests, {throttled} throttled), wall/floor {:.2}, tail after the last identity-protection read {:.1} s, peak RSS {:.1} MiB, $batch requests {batches}, posts slack {} teams {}",
        env_or(
            "RISKRELAY_BENCH_CONCURRENCY",
            riskrelay::graph::config::DEFAULT_BATCH_CONCURRENCY as u64
        ),
        wall.as_secs_f64(),
        floor.as_secs_f64(),
        ip.len(),
        wall.as_secs_f64() / floor.as_secs_f64(),
        tail.as_secs_f64(),
        peak as f64 / 1024.0,
        slack_posts,
        teams_posts,
    );
}
