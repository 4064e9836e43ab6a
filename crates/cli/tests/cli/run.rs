//! `riskrelay run`, the self-hosted service, as a process: idempotent runs, the baseline after a
//! fresh database, a kill mid-cycle, and a graceful stop.

use riskrelay_sim::testkit::answer;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use riskrelay_sim::{SimConfig, SimUser, Simulator};
use wiremock::{MockServer, ResponseTemplate};

use riskrelay_sim::testkit::SLACK_PATH;

async fn slack() -> MockServer {
    let s = MockServer::start().await;
    riskrelay_sim::testkit::ok_slack(&s).await;
    s
}

/// `riskrelay` with the service's environment (a Slack sink, the database), no arguments yet.
fn cli(db: &Path, slack: &MockServer) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_riskrelay"));
    cmd.env_clear()
        .env(
            "RISKRELAY_SLACK_WEBHOOK_URL",
            format!("{}{SLACK_PATH}", slack.uri()),
        )
        .env("RISKRELAY_MIN_RISK_LEVEL", "low")
        .env("RISKRELAY_LOG_FORMAT", "json")
        .env("RISKRELAY_SQLITE_PATH", db)
        .env("RISKRELAY_LISTEN", "127.0.0.1:0")
        .stderr(log(db))
        .kill_on_drop(true);
    cmd
}

pub(crate) fn command(db: &Path, slack: &MockServer) -> tokio::process::Command {
    let mut cmd = cli(db, slack);
    cmd.arg("run").stdout(Stdio::null());
    cmd
}

/// Each run's log goes to a file next to its database, numbered, for a failing test to show.
fn log(db: &Path) -> std::fs::File {
    let dir = db.parent().unwrap();
    let n = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count();
    std::fs::File::create(dir.join(format!("run-{n}.log"))).unwrap()
}

pub(crate) fn logs(db: &Path) -> String {
    let dir = db.parent().unwrap();
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            format!(
                "== {}\n{}",
                p.display(),
                std::fs::read_to_string(p).unwrap_or_default()
            )
        })
        .collect()
}

/// A tenant watched from a fresh database: a baseline run done, then `users` users at risk
/// (Kill Test 0…), and Slack taking every post until the test says otherwise.
pub(crate) struct Watched {
    // Held for the database's lifetime.
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) db: std::path::PathBuf,
    pub(crate) sim: Simulator,
    pub(crate) slack: MockServer,
}

pub(crate) async fn watched(config: SimConfig, users: u32) -> Watched {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("riskrelay.sqlite");
    let sim = Simulator::start(config).await.unwrap();
    // The simulated tenant serves risky service principals (it has Workload ID Premium), and a
    // policy blocking the risky ones keeps its posture finding out of these delivery stories.
    sim.set_ca_policies(vec![riskrelay_sim::scenario::workload_risk_policy(
        "Block high-risk workload identities",
        "enabled",
    )]);
    let slack = slack().await;
    run_once(&db, &sim, &slack).await;
    risky(&sim, users);
    Watched {
        _dir: dir,
        db,
        sim,
        slack,
    }
}

/// Against a simulator owned by the test, so it outlives the process.
pub fn against(cmd: &mut tokio::process::Command, sim: &Simulator) {
    cmd.env("RISKRELAY_TENANT_ID", sim.tenant_id().to_string())
        .env(
            "RISKRELAY_CLIENT_ID",
            SimConfig::default().client_id.to_string(),
        )
        .env(
            "RISKRELAY_GRAPH_CLIENT_SECRET",
            SimConfig::default().client_secret,
        )
        .env("RISKRELAY_AUTHORITY_HOST", sim.url().to_string())
        .env("RISKRELAY_GRAPH_ROOT", sim.url().to_string());
}

pub(crate) async fn bodies(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn run_once_simulate_twice_posts_once_and_a_fresh_database_announces_a_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("riskrelay.sqlite");
    let slack = slack().await;
    let once = |db: &Path| {
        let mut c = command(db, &slack);
        c.args(["--once", "--simulate"]);
        c
    };
    assert!(once(&db).status().await.unwrap().success());
    let first = bodies(&slack).await;
    assert_eq!(
        first.len(),
        3,
        "drift, policy finding, baseline: {first:#?}"
    );
    assert!(
        first
            .iter()
            .any(|t| t.contains("riskrelay is watching: 4 users already at risk")),
        "{first:#?}"
    );
    assert!(
        !first.iter().any(
            |t| ["High user risk:", "Medium user risk:", "Low user risk:"]
                .iter()
                .any(|k| t.contains(k))
        ),
        "no flood of per-user alerts: {first:#?}"
    );

    assert!(once(&db).status().await.unwrap().success());
    assert_eq!(
        bodies(&slack).await.len(),
        3,
        "the second run posts nothing: SQLite remembers"
    );

    std::fs::remove_file(&db).unwrap();
    assert!(once(&db).status().await.unwrap().success());
    let after = bodies(&slack).await;
    assert_eq!(after.len(), 6);
    assert!(
        after[3..]
            .iter()
            .any(|t| t.contains("riskrelay is watching: 4 users already at risk")),
        "{after:#?}"
    );
}

fn risky(sim: &Simulator, n: u32) {
    for i in 0..n {
        riskrelay_sim::testkit::high_risk(
            sim,
            SimUser::new(
                riskrelay_sim::scenario::user_id(500 + i),
                &format!("Kill Test {i}"),
                &format!("kill{i}"),
            ),
        );
    }
}

pub(crate) fn user_alerts(texts: &[String]) -> Vec<String> {
    let mut names: Vec<String> = texts
        .iter()
        .filter(|t| t.contains("High user risk: Kill Test"))
        .map(|t| {
            t.split("High user risk: ")
                .nth(1)
                .unwrap()
                .split(' ')
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_kill_mid_cycle_loses_nothing_and_posts_nothing_twice() {
    // Pages of two: the cycle streams three pages of users, and the kill lands in the second.
    let config = SimConfig {
        max_page: 2,
        ..SimConfig::default()
    };
    let Watched {
        _dir,
        db,
        sim,
        slack,
    } = watched(config, 6).await;
    let once = || {
        let mut c = command(&db, &slack);
        c.arg("--once");
        against(&mut c, &sim);
        c
    };
    let before = bodies(&slack).await.len();

    let mut child = once().spawn().unwrap();
    // Slack is paced at one post a second: kill between the third and the fourth.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while user_alerts(&bodies(&slack).await).len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run posted too little"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let killed_at = user_alerts(&bodies(&slack).await);
    assert!(killed_at.len() < 6, "killed mid-cycle: {killed_at:?}");

    assert!(
        once().status().await.unwrap().success(),
        "restart: {}",
        logs(&db)
    );
    let all = user_alerts(&bodies(&slack).await[before..]);
    let expected: Vec<String> = (0..6).map(|i| format!("Kill Test {i}")).collect();
    assert_eq!(all, expected, "every alert exactly once");
}

#[tokio::test]
async fn sigterm_during_a_long_retry_after_stops_in_moments_and_the_next_start_posts_the_rest() {
    let Watched {
        _dir,
        db,
        sim,
        slack,
    } = watched(SimConfig::default(), 4).await;
    // Slack takes the first alert, then asks for a 50-second pause once.
    slack.reset().await;
    answer(
        &slack,
        SLACK_PATH,
        ResponseTemplate::new(200).set_body_string("ok"),
        Some(1),
        None,
    )
    .await;
    answer(
        &slack,
        SLACK_PATH,
        ResponseTemplate::new(429)
            .insert_header("retry-after", "50")
            .set_body_string("rate_limited"),
        Some(1),
        None,
    )
    .await;
    riskrelay_sim::testkit::ok_slack(&slack).await;

    let mut service = command(&db, &slack);
    against(&mut service, &sim);
    let mut child = service.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while slack.received_requests().await.unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the service posted too little: {}",
            logs(&db)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().unwrap();
    let asked = std::time::Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .unwrap()
        .unwrap();
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(5),
        "stopped {took:?} after SIGTERM, inside a 50 s Retry-After"
    );
    assert_eq!(
        user_alerts(&bodies(&slack).await).len(),
        2,
        "one posted, one refused"
    );

    run_once(&db, &sim, &slack).await;
    let expected: Vec<String> = (0..4).map(|i| format!("Kill Test {i}")).collect();
    // Every post but the second (the one Slack refused) was accepted: each alert exactly once.
    let mut accepted = bodies(&slack).await;
    accepted.remove(1);
    assert_eq!(user_alerts(&accepted), expected, "{}", logs(&db));
}

#[tokio::test]
async fn replay_decodes_an_sqs_batch_as_the_worker_would() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_riskrelay"))
        .arg("replay")
        .arg(riskrelay_sim::testkit::repo_root().join("events/sqs-batch.json"))
        .env_clear()
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "one message is unreadable");
    assert_eq!(text.lines().count(), 3);
    assert!(
        text.lines().nth(1).unwrap().contains("unreadable"),
        "{text}"
    );
    assert!(
        text.lines()
            .nth(2)
            .unwrap()
            .contains("reauthorizationRequired"),
        "{text}"
    );
}

/// One `run --once` against the simulator: the baseline for what follows.
async fn run_once(db: &Path, sim: &Simulator, slack: &MockServer) {
    let mut once = command(db, slack);
    once.arg("--once");
    against(&mut once, sim);
    assert!(once.status().await.unwrap().success(), "{}", logs(db));
}

/// A free loopback port for a process to listen on.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `riskrelay run --once` on `db` against `sim`, its stdout discarded, logging warnings only:
/// what the benchmarks run (each adds its own settings).
pub fn once(bin: &str, sim: &Simulator, db: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.env_clear();
    against(&mut cmd, sim);
    cmd.env("RISKRELAY_MIN_RISK_LEVEL", "low")
        .env("RISKRELAY_LOG", "warn")
        .args(["run", "--once", "--db"])
        .arg(db)
        .stdout(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs a benchmark's process to its end: its exit status, wall time and peak memory (KiB),
/// sampled every 20 ms.
pub async fn measured(
    mut cmd: tokio::process::Command,
) -> (std::process::ExitStatus, Duration, u64) {
    let started = std::time::Instant::now();
    let mut child = cmd.spawn().unwrap();
    let pid = child.id().unwrap();
    let mut peak = 0;
    let status = loop {
        peak = peak.max(peak_rss_kib(pid));
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    (status, started.elapsed(), peak)
}

pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_notification_flood_is_bounded_and_coalesced_and_a_stop_is_prompt() {
    let Watched {
        _dir,
        db,
        sim,
        slack,
    } = watched(SimConfig::default(), 3).await;
    let users: Vec<String> = (0..3)
        .map(|i| riskrelay_sim::scenario::user_id(500 + i).to_string())
        .collect();
    // The subscription the notifications come from, as upkeep would have recorded it.
    {
        let store = riskrelay::store::sqlite::SqliteStore::open(&db).unwrap();
        let id =
            riskrelay::ids::SubscriptionId::parse(riskrelay_sim::testkit::SUBSCRIPTION).unwrap();
        riskrelay::store::save(
            &store,
            sim.tenant_id(),
            riskrelay::store::keys::SUBSCRIPTIONS,
            &riskrelay::source::subscriptions::CreatedWith([(id, "fp".to_string())].into()),
            None,
        )
        .await
        .unwrap();
    }

    let port = free_port();
    let mut service = command(&db, &slack);
    against(&mut service, &sim);
    service
        .env("RISKRELAY_CLIENT_STATE", "flood-state")
        .env("RISKRELAY_LISTEN", format!("127.0.0.1:{port}"));
    let mut child = service.spawn().unwrap();
    let pid = child.id().unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let up = std::time::Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(std::time::Instant::now() < up, "{}", logs(&db));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Several clients post batches of valid notifications about the same three users.
    let body = serde_json::json!({
        "value": (0..50).map(|n| serde_json::json!({
            "subscriptionId": riskrelay_sim::testkit::SUBSCRIPTION,
            "changeType": "updated",
            "clientState": "flood-state",
            "tenantId": sim.tenant_id().to_string(),
            "resource": format!("identityProtection/riskyUsers/{}", users[n % 3]),
        })).collect::<Vec<_>>()
    })
    .to_string();
    let until = std::time::Instant::now() + Duration::from_secs(3);
    let mut flooders = Vec::new();
    for _ in 0..6 {
        let (http, url, body) = (http.clone(), format!("{base}/notifications"), body.clone());
        flooders.push(tokio::spawn(async move {
            let mut sent = 0u64;
            while std::time::Instant::now() < until {
                let res = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                if res.is_ok_and(|r| r.status().as_u16() == 202) {
                    sent += 50;
                }
            }
            sent
        }));
    }
    let mut accepted = 0;
    for f in flooders {
        accepted += f.await.unwrap();
    }
    let reads = || {
        sim.requests()
            .iter()
            .filter(|r| r.path.contains("/identityProtection/riskyUsers/"))
            .count() as u64
    };
    // Coalesced, the hints left after the flood are a handful and are soon read; uncoalesced,
    // hundreds of thousands would keep the worker reading for days.
    let quiet_by = std::time::Instant::now() + Duration::from_secs(45);
    let mut last = reads();
    loop {
        tokio::time::sleep(Duration::from_secs(4)).await;
        let now = reads();
        if now == last {
            break;
        }
        assert!(
            std::time::Instant::now() < quiet_by,
            "still reading hinted users ({now} reads)"
        );
        last = now;
    }
    let hinted_reads = last;
    assert!(
        accepted > 3_000,
        "the flood reached the webhook: {accepted}"
    );
    assert!(
        hinted_reads <= 30,
        "{accepted} notifications about 3 users cost {hinted_reads} risky-user reads"
    );
    let peak = peak_rss_kib(pid);
    assert!(
        peak < 64 * 1024,
        "peak memory {peak} KiB after {accepted} notifications"
    );

    // A poll cycle in progress is allowed to finish (see the test above): wait for the start-up
    // cycle, so that what is measured is how fast the webhook's hints let go.
    let settled = std::time::Instant::now() + Duration::from_secs(60);
    while !logs(&db)
        .split("run-1.log")
        .nth(1)
        .is_some_and(|l| l.contains("poll cycle done"))
    {
        assert!(std::time::Instant::now() < settled, "{}", logs(&db));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stop = std::time::Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .unwrap_or_else(|_| panic!("no exit 5 s after SIGTERM\n{}", logs(&db)))
        .unwrap();
    assert!(status.success(), "{status:?}\n{}", logs(&db));
    println!(
        "{accepted} notifications accepted, {hinted_reads} risky-user reads, peak {peak} KiB, stopped in {:?}",
        stop.elapsed()
    );
    if std::env::var_os("RISKRELAY_TEST_SHOW_LOGS").is_some() {
        println!("{}", logs(&db));
    }
}

#[tokio::test]
async fn riskrelay_parked_lists_what_run_set_aside_and_replays_it() {
    let Watched {
        _dir,
        db,
        sim,
        slack,
    } = watched(SimConfig::default(), 2).await;
    slack.reset().await;
    // Slack refuses the alert about kill0 for good; the cycle still succeeds.
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::body_string_contains("kill0"))
        .respond_with(ResponseTemplate::new(400).set_body_string("invalid_blocks"))
        .mount(&slack)
        .await;
    riskrelay_sim::testkit::ok_slack(&slack).await;
    run_once(&db, &sim, &slack).await;

    let parked = |args: &[&str]| {
        let mut c = cli(&db, &slack);
        c.arg("parked").args(args);
        against(&mut c, &sim);
        c.output()
    };
    let list = parked(&[]).await.unwrap();
    let text = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(list.status.success(), "{}", logs(&db));
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("slack") && text.contains("Kill Test 0") && text.contains("invalid_blocks"),
        "{text}"
    );

    slack.reset().await;
    riskrelay_sim::testkit::ok_slack(&slack).await;
    let replay = parked(&["--replay", "all"]).await.unwrap();
    let text = String::from_utf8_lossy(&replay.stdout).into_owned();
    assert!(
        replay.status.success() && text.contains("delivered"),
        "{text}{}",
        logs(&db)
    );
    let posted = slack.received_requests().await.unwrap();
    assert_eq!(posted.len(), 1);
    assert!(String::from_utf8_lossy(&posted[0].body).contains("kill0"));
    let after = parked(&[]).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&after.stdout).trim(),
        "nothing is parked"
    );

    let absent = db.with_file_name("absent.sqlite");
    let missing = cli(&absent, &slack)
        .args(["parked", "--db"])
        .arg(&absent)
        .output()
        .await
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no database at"));
}

/// A digest's claims and records are each one grouped write. A kill while the digest is being
/// posted leaves its claims unfinished (nothing recorded as delivered), so after the lease the
/// restart posts it again: nothing is lost, and the one message in flight at the kill is the only
/// one that can arrive twice.
#[tokio::test]
async fn a_kill_during_a_digest_loses_nothing_and_repeats_at_most_that_digest() {
    let Watched {
        _dir,
        db,
        sim,
        slack,
    } = watched(SimConfig::default(), 12).await;
    slack.reset().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::body_string_contains(
            "Many users changed at once",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("ok")
                .set_delay(Duration::from_secs(5)),
        )
        .up_to_n_times(1)
        .mount(&slack)
        .await;
    riskrelay_sim::testkit::ok_slack(&slack).await;

    let once = || {
        let mut c = command(&db, &slack);
        c.arg("--once").env("RISKRELAY_CLAIM_LEASE_SECONDS", "5");
        against(&mut c, &sim);
        c
    };
    let mut child = once().spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while slack.received_requests().await.unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "{}", logs(&db));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(once().status().await.unwrap().success(), "{}", logs(&db));
    assert!(once().status().await.unwrap().success(), "{}", logs(&db));
    let posts = slack.received_requests().await.unwrap();
    let texts: Vec<String> = posts
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    let with_digest = texts
        .iter()
        .filter(|t| t.contains("Many users changed at once"))
        .count();
    assert_eq!(
        with_digest, 2,
        "the digest in flight at the kill, and its one repeat"
    );
    assert_eq!(
        texts.len(),
        2,
        "nothing else was posted, and nothing one at a time: {texts:?}"
    );
}

/// Named destinations, each with its secret URL, on a `riskrelay` command.
fn destinations(cmd: &mut tokio::process::Command, sinks: &[(&str, &str, String)]) {
    let list: Vec<String> = sinks
        .iter()
        .map(|(name, kind, _)| format!("{name}:{kind}:low"))
        .collect();
    cmd.env("RISKRELAY_SINKS", list.join(","));
    for (name, _, url) in sinks {
        cmd.env(
            format!("RISKRELAY_{}_WEBHOOK_URL", name.to_ascii_uppercase()),
            url,
        );
    }
}

/// Answers every post with 400 and the request line, URL and query included, as a
/// TLS-inspecting proxy's error page may.
struct EchoTheRequest;

impl wiremock::Respond for EchoTheRequest {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        ResponseTemplate::new(400).set_body_string(format!(
            "proxy refused POST {} ({} bytes)",
            req.url,
            req.body.len()
        ))
    }
}

/// A destination that redirects and one whose proxy echoes its URL: each message to them is
/// parked (a redirect is a failure, never a delivery: nothing reaches the redirect's target),
/// and no secret of theirs reaches a log line, `riskrelay parked`, or the notice the third
/// destination gets, which names each destination and its kind of failure only.
#[tokio::test]
async fn redirected_and_echoing_destinations_lose_nothing_and_leak_no_secret() {
    let Watched {
        _dir,
        db,
        sim,
        slack,
    } = watched(SimConfig::default(), 2).await;
    let target = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&target)
        .await;
    let moved = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(301).insert_header("location", format!("{}/new", target.uri())),
        )
        .mount(&moved)
        .await;
    let echo = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(EchoTheRequest)
        .mount(&echo)
        .await;
    let ops = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&ops)
        .await;
    let secrets = [
        "T0REDIR01",
        "MovedTokenMovedToken1234",
        "0123456789abcdef0123456789abcdef",
        "EchoSigEchoSigEchoSigEchoSig0123456789",
        "OpsTokenOpsTokenOpsToken",
    ];
    let sinks = [
        (
            "moved",
            "slack",
            format!(
                "{}/services/T0REDIR01/B0REDIR01/MovedTokenMovedToken1234",
                moved.uri()
            ),
        ),
        (
            "echo",
            "teams",
            format!(
                "{}/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke?api-version=2016-06-01&sig=EchoSigEchoSigEchoSigEchoSig0123456789",
                echo.uri()
            ),
        ),
        (
            "ops",
            "slack",
            format!(
                "{}/services/T0OPS0001/B0OPS0001/OpsTokenOpsTokenOpsToken",
                ops.uri()
            ),
        ),
    ];
    let mut once = command(&db, &slack);
    once.arg("--once");
    against(&mut once, &sim);
    destinations(&mut once, &sinks);
    assert!(once.status().await.unwrap().success(), "{}", logs(&db));

    assert!(
        target.received_requests().await.unwrap().is_empty(),
        "a redirect was followed"
    );
    let posted = bodies(&ops).await;
    let notice = posted
        .iter()
        .find(|t| t.contains("set aside"))
        .unwrap_or_else(|| panic!("no notice in {posted:#?}"));
    // The whole posts, not only their fallback text.
    let all = riskrelay_sim::testkit::received_text(&ops).await.join("\n");
    assert!(
        all.contains("to moved") && all.contains("redirected (HTTP 301)"),
        "{notice}: {all}"
    );
    assert!(
        all.contains("to echo") && all.contains("refused the message (HTTP 400)"),
        "{all}"
    );
    assert!(
        !all.contains("proxy refused"),
        "another destination's answer: {all}"
    );
    assert_eq!(user_alerts(&posted).len(), 2, "{posted:#?}");

    let mut list = cli(&db, &slack);
    list.arg("parked");
    against(&mut list, &sim);
    destinations(&mut list, &sinks);
    let listed = list.output().await.unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    // Every message for the two destinations is parked: the two alerts and what else this
    // first cycle had for them (posture findings), nothing for the third.
    assert!(listed.lines().count() >= 4, "{listed}");
    assert!(
        listed
            .lines()
            .all(|l| l.contains("\tmoved\t") || l.contains("\techo\t")),
        "{listed}"
    );
    assert!(listed.contains("redirect"), "{listed}");

    let everything = format!("{}{listed}{all}", logs(&db));
    for secret in secrets {
        assert!(
            !everything.contains(secret),
            "{secret} leaked:\n{everything}"
        );
    }
}

/// A `Retry-After` of 1e20 seconds (more than `u64::MAX`) from Graph or from a destination is
/// read as "too long", never a panic: `run --once` and `check --json` end with their normal exit
/// codes, and `riskrelay run` keeps its schedule after a posture check that met it.
#[tokio::test]
async fn a_retry_after_of_1e20_panics_nothing_and_the_schedule_goes_on() {
    use riskrelay_sim::Fault;
    let Watched {
        _dir,
        db,
        sim,
        slack,
    } = watched(SimConfig::default(), 2).await;

    sim.fail(Fault::status("/identityProtection/policy", 429, 1).with_retry_after_text("1e20"));
    let mut check = cli(&db, &slack);
    check.args(["check", "--json"]).stdout(Stdio::piped());
    against(&mut check, &sim);
    let checked = check.output().await.unwrap();
    assert_ne!(checked.status.code(), Some(101), "{}", logs(&db));

    sim.fail(Fault::status("/identityProtection/riskyUsers", 429, 1).with_retry_after_text("1e20"));
    let mut once = command(&db, &slack);
    once.arg("--once");
    against(&mut once, &sim);
    let status = once.status().await.unwrap();
    assert_eq!(
        status.code(),
        Some(2),
        "a failed cycle, said: {}",
        logs(&db)
    );

    // The service: its first posture check meets the huge Retry-After, the first post to Slack
    // too; the poll cycle after it runs and the alerts arrive.
    sim.fail(Fault::status("/identityProtection/policy", 429, 1).with_retry_after_text("1e20"));
    slack.reset().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1e20"))
        .up_to_n_times(1)
        .mount(&slack)
        .await;
    riskrelay_sim::testkit::ok_slack(&slack).await;
    let mut service = command(&db, &slack);
    against(&mut service, &sim);
    let mut child = service.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while user_alerts(&bodies(&slack).await).len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no alert after the huge Retry-After: {}",
            logs(&db)
        );
        assert!(child.try_wait().unwrap().is_none(), "{}", logs(&db));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.kill().await.unwrap();
    let text = logs(&db);
    assert!(!text.contains("panicked"), "{text}");
}
