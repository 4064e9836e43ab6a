//! The soak: `riskrelay run --once`, cycle after cycle, against the simulated tenant with random
//! Graph faults (429 with and without `Retry-After`, 503, a slow `$batch`), chat destinations that
//! refuse a share of posts (429, 5xx), and the process SIGKILLed at random moments. At the end every
//! risk change must have reached every destination exactly once (or, for a kill between a post
//! and its record, once more, counted), nothing parked, memory bounded.
//!
//! Small by default (the test command); `scripts/soak.sh` runs it large:
//! `RISKRELAY_SOAK_CHANGES` (default 100) and `RISKRELAY_SOAK_KILLS` (default 3).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use riskrelay::ids::UserId;
use riskrelay::risk::{RiskDetail, RiskLevel, RiskState};
use riskrelay_sim::{Chaos, SimConfig, SimUser, Simulator};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use riskrelay_sim::testkit::{SLACK_PATH, TEAMS_PATH};

/// A chat endpoint that refuses a share of posts and keeps the bodies of those it accepted.
#[derive(Clone)]
struct Flaky {
    refuse: f64,
    ok: ResponseTemplate,
    accepted: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<usize>>,
}

impl Respond for Flaky {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if rand::random_range(0.0..1.0) < self.refuse {
            *self.refused.lock().unwrap() += 1;
            return match rand::random_range(0..3u8) {
                0 => ResponseTemplate::new(429).insert_header("retry-after", "1"),
                1 => ResponseTemplate::new(500),
                _ => ResponseTemplate::new(503),
            };
        }
        self.accepted
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&request.body).into_owned());
        self.ok.clone()
    }
}

async fn flaky(path: &str, ok: ResponseTemplate, refuse: f64) -> (MockServer, Flaky) {
    let server = MockServer::start().await;
    let f = Flaky {
        refuse,
        ok,
        accepted: Arc::default(),
        refused: Arc::default(),
    };
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(path))
        .respond_with(f.clone())
        .mount(&server)
        .await;
    (server, f)
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one change must produce: a user's new risk, or its remediation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Expect {
    NewRisk(u32),
    Remediated(u32),
}

impl Expect {
    fn found_in(self, body: &str) -> bool {
        let (n, title) = match self {
            Self::NewRisk(n) => (n, "High user risk"),
            Self::Remediated(n) => (n, "User risk remediated"),
        };
        body.contains(&format!("soak{n}@contoso.com")) && body.contains(title)
    }
}

fn user(n: u32) -> UserId {
    riskrelay_sim::scenario::user_id(10_000 + n)
}

struct Run {
    status: Option<std::process::ExitStatus>,
    peak_rss_kib: u64,
}

/// One `run --once`, SIGKILLed after `kill_after` when given. Its log goes to `log`.
async fn run_once(
    db: &Path,
    sim: &Simulator,
    (slack, teams): (&str, &str),
    kill_after: Option<Duration>,
    log: &Path,
) -> Run {
    let bin = std::env::var("RISKRELAY_SOAK_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_riskrelay").to_string());
    let mut cmd = tokio::process::Command::new(bin);
    cmd.env_clear();
    crate::run::against(&mut cmd, sim);
    cmd.env("RISKRELAY_SLACK_WEBHOOK_URL", slack)
        .env("RISKRELAY_TEAMS_WEBHOOK_URL", teams)
        .env("RISKRELAY_MIN_RISK_LEVEL", "low")
        .env("RISKRELAY_DIGEST_THRESHOLD", "1000")
        // One process owns the database: a crashed run's claim need not block for 5 minutes.
        .env("RISKRELAY_CLAIM_LEASE_SECONDS", "5")
        .env("RISKRELAY_LOG_FORMAT", "json")
        .args(["run", "--once", "--db"])
        .arg(db)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let pid = child.id().unwrap();
    let started = Instant::now();
    let mut peak = 0;
    loop {
        peak = peak.max(crate::run::peak_rss_kib(pid));
        if let Some(status) = child.try_wait().unwrap() {
            return Run {
                status: Some(status),
                peak_rss_kib: peak,
            };
        }
        if kill_after.is_some_and(|k| started.elapsed() >= k) {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
            return Run {
                status: None,
                peak_rss_kib: peak,
            };
        }
        assert!(
            started.elapsed() < Duration::from_secs(1200),
            "a run took over 20 minutes; its log ends: {}",
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn soak_every_change_reaches_every_destination_once_through_faults_and_kills() {
    let changes = env_count("RISKRELAY_SOAK_CHANGES", 100);
    let kills = env_count("RISKRELAY_SOAK_KILLS", 3);
    let per_cycle = env_count("RISKRELAY_SOAK_PER_CYCLE", 20);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("riskrelay.sqlite");
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (slack, slack_posts) = flaky(
        SLACK_PATH,
        ResponseTemplate::new(200).set_body_string("ok"),
        0.1,
    )
    .await;
    let (teams, teams_posts) = flaky(TEAMS_PATH, ResponseTemplate::new(202), 0.1).await;
    let slack_url = format!("{}{SLACK_PATH}", slack.uri());
    let teams_url = format!("{}{TEAMS_PATH}?sig=soak", teams.uri());
    // Each run's log, kept where RISKRELAY_SOAK_LOGS says (for a failure to be read afterwards).
    let logs = std::env::var("RISKRELAY_SOAK_LOGS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().to_path_buf());
    std::fs::create_dir_all(&logs).unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let (db, sim, slack_url, teams_url) = (&db, &sim, &slack_url, &teams_url);
    let once = |kill: Option<Duration>| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = logs.join(format!("run-{n:04}.log"));
        async move { run_once(db, sim, (slack_url, teams_url), kill, &log).await }
    };

    // The baseline of an empty tenant, without faults.
    assert!(once(None).await.status.unwrap().success());
    sim.set_chaos(Some(Chaos {
        rate: 0.1,
        batch_delay: Duration::from_millis(300),
    }));

    let mut expected: Vec<Expect> = Vec::new();
    // Users whose new risk a clean run has recorded: they may be remediated now.
    let mut recorded: Vec<u32> = Vec::new();
    let mut pending: Vec<u32> = Vec::new();
    let mut next_user = 0u32;
    let (mut runs, mut killed, mut failed, mut peak) = (0usize, 0usize, 0usize, 0u64);
    // Kills spread over the rounds: all at the start would pile the rounds' changes into one
    // long run (Slack takes one post a second).
    let rounds = changes.div_ceil(per_cycle.max(1));
    let kill_every = (rounds / kills.max(1)).max(1);
    while expected.len() < changes {
        let batch = per_cycle.min(changes - expected.len());
        for _ in 0..batch {
            if !recorded.is_empty() && rand::random_range(0..3u8) == 0 {
                let n = recorded.swap_remove(rand::random_range(0..recorded.len()));
                sim.set_risk(
                    user(n),
                    RiskLevel::None,
                    RiskState::Remediated,
                    RiskDetail::UserPerformedSecuredPasswordChange,
                );
                expected.push(Expect::Remediated(n));
            } else {
                let n = next_user;
                next_user += 1;
                riskrelay_sim::testkit::high_risk(
                    sim,
                    SimUser::new(
                        user(n),
                        &format!("Soak {n}"),
                        &format!("soak{n}@contoso.com"),
                    ),
                );
                pending.push(n);
                expected.push(Expect::NewRisk(n));
            }
        }
        runs += 1;
        let kill = (killed < kills && runs % kill_every == 0)
            .then(|| Duration::from_millis(rand::random_range(300..4000)));
        let run = once(kill).await;
        peak = peak.max(run.peak_rss_kib);
        match run.status {
            None => killed += 1,
            Some(s) if s.success() => recorded.append(&mut pending),
            Some(_) => failed += 1,
        }
    }
    // Drain: faults off, runs until two clean ones in a row after the last lease lapsed.
    sim.set_chaos(None);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut clean = 0;
    while clean < 2 {
        let run = once(None).await;
        runs += 1;
        peak = peak.max(run.peak_rss_kib);
        if run.status.is_some_and(|s| s.success()) {
            clean += 1;
        } else {
            failed += 1;
            clean = 0;
        }
        assert!(runs < 1000, "the soak did not settle");
    }

    let mut report = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, posts) in [("slack", &slack_posts), ("teams", &teams_posts)] {
        let bodies = posts.accepted.lock().unwrap().clone();
        let (mut lost, mut duplicates) = (0, 0);
        for e in &expected {
            match bodies.iter().filter(|b| e.found_in(b)).count() {
                0 => {
                    lost += 1;
                    problems.push(format!("{name}: {e:?} never arrived"));
                }
                1 => {}
                n => duplicates += n - 1,
            }
        }
        report.insert(
            name,
            format!(
                "{} posts accepted, {} refused, {lost} lost, {duplicates} duplicates",
                bodies.len(),
                posts.refused.lock().unwrap()
            ),
        );
    }
    let store = riskrelay::store::sqlite::SqliteStore::open(db).unwrap();
    let parked = riskrelay::parking::list(&store, sim.tenant_id())
        .await
        .unwrap();
    let graph_faults = sim
        .requests()
        .iter()
        .filter(|r| r.status == 429 || r.status == 503)
        .count();
    println!(
        "\nsoak: {} changes, {runs} runs ({killed} killed, {failed} failed), {graph_faults} Graph faults injected, peak RSS {} KiB, parked {}; {report:?}",
        expected.len(),
        peak,
        parked.len()
    );
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(parked.is_empty(), "nothing should be parked: {parked:?}");
    assert_eq!(killed, kills, "every planned kill happened");
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
    // Duplicates come only from a kill between a post and its record: at most one per kill and
    // destination.
    for (name, line) in &report {
        let dups: usize = line
            .split(", ")
            .find_map(|p| p.strip_suffix(" duplicates"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(dups <= kills, "{name}: {line}");
    }
}
