//! The many-tenants benchmark (not a test: `#[ignore]`, run by `scripts/tenants-bench.sh`): one
//! `riskrelay run --once` (posture checks and a poll cycle) over N simulated tenants with a few
//! changed users each, in the MSP mode, against the same run over one tenant. Every simulated
//! tenant enforces Graph's 1 request per second identity-protection rule on its own. Prints wall
//! time, peak memory, requests per tenant and the ratio to the single-tenant run.
//!
//! `RISKRELAY_BENCH_TENANTS` (default 200), `RISKRELAY_BENCH_CHANGES` (changed users per tenant,
//! default 3), `RISKRELAY_BENCH_BIN` (the riskrelay binary to measure; default the test build's).

use std::time::Duration;

use riskrelay::risk::{RiskDetail, RiskLevel, RiskState};
use riskrelay_sim::{DetectionSpec, SimConfig, SimUser, Simulator};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one measured run did.
struct Measured {
    wall: Duration,
    peak_kib: u64,
    /// Requests per tenant: (identity-protection, all).
    per_tenant: Vec<(usize, usize)>,
    throttled: usize,
}

/// A baseline run, then `changes` users at risk in every tenant, then the measured run.
async fn measure(bin: &str, sims: &[Simulator], changes: u32, registry: bool) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("riskrelay.sqlite");
    if registry {
        let store = riskrelay::store::sqlite::SqliteStore::open(&db).unwrap();
        riskrelay_sim::scenario::register_tenants(&store, sims)
            .await
            .unwrap();
    }
    // No chat destination: the console, discarded. A shared Slack channel would pace every
    // tenant's posts at Slack's one a second, which is not what is measured here.
    let run = || {
        let mut cmd = crate::run::once(bin, &sims[0], &db);
        cmd.env(
            "RISKRELAY_TENANTS",
            if registry { "registry" } else { "config" },
        );
        cmd
    };
    assert!(run().status().await.unwrap().success(), "baseline run");
    for (t, sim) in sims.iter().enumerate() {
        for n in 0..changes {
            let id = sim.add_user(
                SimUser::new(
                    riskrelay_sim::scenario::user_id(200_000 + n),
                    &format!("Bench User {t}-{n}"),
                    &format!("bench{n}"),
                )
                .synced(),
            );
            sim.add_detection(id, DetectionSpec::leaked_credentials());
            sim.set_risk(id, RiskLevel::High, RiskState::AtRisk, RiskDetail::None);
        }
        sim.enforce_rate_limit(true);
        sim.clear_requests();
    }
    // The baseline run's last identity-protection request must not count against this one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, wall, peak) = crate::run::measured(run()).await;
    assert!(status.success(), "the measured run failed");
    let mut per_tenant = Vec::new();
    let mut throttled = 0;
    for sim in sims {
        let requests = sim.requests();
        let ip = requests.iter().filter(|r| r.is_identity_protection());
        throttled += ip.clone().filter(|r| r.status == 429).count();
        per_tenant.push((ip.count(), requests.len()));
    }
    Measured {
        wall,
        peak_kib: peak,
        per_tenant,
        throttled,
    }
}

fn spread(values: impl Iterator<Item = usize>) -> String {
    let v: Vec<usize> = values.collect();
    format!(
        "{}–{}",
        v.iter().min().unwrap_or(&0),
        v.iter().max().unwrap_or(&0)
    )
}

#[tokio::test]
#[ignore = "a benchmark: scripts/tenants-bench.sh"]
async fn tenants_benchmark() {
    let tenants = env_or("RISKRELAY_BENCH_TENANTS", 200) as usize;
    let changes = env_or("RISKRELAY_BENCH_CHANGES", 3) as u32;
    let bin = std::env::var("RISKRELAY_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_riskrelay").to_string());

    let single = Simulator::start(SimConfig::default()).await.unwrap();
    let one = measure(&bin, std::slice::from_ref(&single), changes, false).await;
    drop(single);
    let sims = Simulator::start_many((0..tenants).map(SimConfig::tenant).collect())
        .await
        .unwrap();
    let many = measure(&bin, &sims, changes, true).await;
    println!(
        "\ntenants-bench: single tenant: wall {:.1} s, peak RSS {:.1} MiB, identity-protection requests {}, all requests {}",
        one.wall.as_secs_f64(),
        one.peak_kib as f64 / 1024.0,
        one.per_tenant[0].0,
        one.per_tenant[0].1,
    );
    println!(
        "tenants-bench: {tenants} tenants, {changes} changed users each: wall {:.1} s ({:.2} × the single tenant), peak RSS {:.1} MiB, identity-protection requests per tenant {}, all requests per tenant {}, throttled {}",
        many.wall.as_secs_f64(),
        many.wall.as_secs_f64() / one.wall.as_secs_f64(),
        many.peak_kib as f64 / 1024.0,
        spread(many.per_tenant.iter().map(|p| p.0)),
        spread(many.per_tenant.iter().map(|p| p.1)),
        many.throttled,
    );
}
