//! `riskrelay demo`: the whole flow against the built-in simulated tenant, no account needed.
//!
//! Every chapter changes the simulated tenant and then runs the real pipeline — a poll cycle over
//! HTTP (token, risky users, detections), reconcile, `$batch` enrichment, the posture snapshot,
//! rendering and delivery — or a posture check. Each message is printed as a person would read it
//! and written as the exact Slack and Teams payloads, one pair per message, in story order.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use secrecy::SecretString;

use crate::alert::AlertKind;
use crate::app::Parts;
use crate::checks;
use crate::config::{PostureConfig, SinkConfig, SinkKind};
use crate::drift::DriftMode;
use crate::graph::GraphClient;
use crate::poll::Poller;
use crate::queue::Queue;
use crate::render::{self, View};
use crate::risk::{DetectionTimingType, RiskDetail, RiskLevel, RiskState};
use crate::service::InlineQueue;
use crate::sim::{DetectionSpec, SimConfig, SimUser, Simulator};
use crate::sink::{ConsoleSink, Sink, SinkError};
use crate::store::Store;
use crate::store::memory::MemoryStore;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub out: PathBuf,
    pub enforce: bool,
    pub slack_webhook: Option<SecretString>,
    pub teams_webhook: Option<SecretString>,
    /// Print each message to stdout (the CLI does; tests do not).
    pub print: bool,
}

/// A message the demo posted.
#[derive(Debug, Clone)]
pub struct Posted {
    pub seq: usize,
    pub chapter: usize,
    pub view: View,
    pub slack_file: PathBuf,
    pub teams_file: PathBuf,
}

#[derive(Debug, Default)]
pub struct DemoReport {
    pub posted: Vec<Posted>,
}

#[derive(Default)]
struct Log {
    chapter: usize,
    posted: Vec<Posted>,
}

/// Writes each message's Slack and Teams payloads.
struct FileSink {
    dir: PathBuf,
    log: Arc<Mutex<Log>>,
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(60).collect()
}

#[async_trait]
impl Sink for FileSink {
    fn name(&self) -> &str {
        "files"
    }

    fn min_level(&self) -> &RiskLevel {
        &RiskLevel::Low
    }

    async fn post(&self, view: &View) -> Result<(), SinkError> {
        let fail = |e: std::io::Error| SinkError::Permanent {
            sink: "files".into(),
            detail: e.to_string(),
        };
        let mut log = self.log.lock().map_err(|_| SinkError::Permanent {
            sink: "files".into(),
            detail: "lock".into(),
        })?;
        let seq = log.posted.len() + 1;
        let base = format!("{seq:02}-{}", slug(&view.title));
        let slack_file = self.dir.join(format!("{base}.slack.json"));
        let teams_file = self.dir.join(format!("{base}.teams.json"));
        let pretty = |v: serde_json::Value| serde_json::to_vec_pretty(&v).unwrap_or_default();
        std::fs::write(&slack_file, pretty(render::slack::payload(view))).map_err(fail)?;
        std::fs::write(&teams_file, pretty(render::teams::payload(view))).map_err(fail)?;
        let chapter = log.chapter;
        log.posted.push(Posted {
            seq,
            chapter,
            view: view.clone(),
            slack_file,
            teams_file,
        });
        Ok(())
    }
}

struct Demo {
    sim: Simulator,
    parts: Parts,
    poller: Poller,
    worker: Arc<crate::worker::Worker>,
    log: Arc<Mutex<Log>>,
    print: bool,
}

impl Demo {
    fn chapter(&self, n: usize, title: &str, story: &str) {
        if let Ok(mut l) = self.log.lock() {
            l.chapter = n;
        }
        if self.print {
            use std::io::IsTerminal as _;
            let (on, off) = if std::io::stdout().is_terminal() {
                ("\x1b[1m", "\x1b[0m")
            } else {
                ("", "")
            };
            println!("\n{on}── {title} ──{off}\n{story}\n");
        }
    }

    async fn poll(&self) -> anyhow::Result<()> {
        self.poller.poll().await.context("poll cycle")?;
        Ok(())
    }

    async fn posture(&self, mode: DriftMode) -> anyhow::Result<()> {
        let config = PostureConfig {
            drift_mode: mode,
            password_sync_stale_after: Duration::from_secs(3 * 3600),
        };
        let queue = InlineQueue::new(self.worker.clone());
        checks::run_and_hand_over(
            &self.parts.graph,
            self.parts.store.as_ref(),
            self.parts.tenant,
            &config,
            &queue,
        )
        .await?;
        Ok(())
    }
}

pub async fn run(opts: DemoOptions) -> anyhow::Result<DemoReport> {
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("could not create {}", opts.out.display()))?;
    clear_payloads(&opts.out)?;
    let sim = Simulator::start(SimConfig::default()).await?;
    let mut graph_config = sim.graph_config();
    // The simulator is not a shared tenant: no need to wait a second between risk reads.
    graph_config.identity_protection_rps = 50.0;
    let graph = GraphClient::new(&graph_config)?;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let http = crate::graph::http_client(Duration::from_secs(15))?;
    let parts = Parts {
        tenant: sim.tenant_id(),
        graph,
        store: store.clone(),
        http,
    };
    let log = Arc::new(Mutex::new(Log::default()));

    let mut sinks: Vec<Arc<dyn Sink>> = Vec::new();
    if opts.print {
        sinks.push(Arc::new(ConsoleSink::new(RiskLevel::Low)));
    }
    sinks.push(Arc::new(FileSink {
        dir: opts.out.clone(),
        log: log.clone(),
    }));
    let mut chat = Vec::new();
    if let Some(url) = &opts.slack_webhook {
        chat.push(SinkConfig {
            name: "slack".into(),
            kind: SinkKind::Slack,
            url: url.clone(),
            min_level: RiskLevel::Low,
        });
    }
    if let Some(url) = &opts.teams_webhook {
        chat.push(SinkConfig {
            name: "teams".into(),
            kind: SinkKind::Teams,
            url: url.clone(),
            min_level: RiskLevel::Low,
        });
    }
    let alerts = crate::config::AlertsConfig {
        sinks: chat,
        kinds: AlertKind::ALL.into_iter().collect(),
        digest_threshold: 10,
    };
    let delivery = parts.delivery(&alerts, sinks);
    let worker = Arc::new(parts.worker(delivery, None));
    let queue: Arc<dyn Queue> =
        Arc::new(InlineQueue::new(worker.clone()).with_retry_delay(Duration::from_millis(200)));
    let poller = Poller::new(
        parts.tenant,
        parts.graph.clone(),
        store.clone(),
        queue,
        crate::poll::DEFAULT_OVERLAP,
    );
    let demo = Demo {
        sim,
        parts,
        poller,
        worker,
        log: log.clone(),
        print: opts.print,
    };
    let sim = &demo.sim;

    // The tenant: hybrid, password hash sync running, the setting off, no user-risk policy, two
    // users already at risk.
    sim.set_setting(false);
    for (n, (name, upn, level)) in [
        ("Megan Bowen", "meganb", RiskLevel::Low),
        ("Lee Gu", "leeg", RiskLevel::Medium),
    ]
    .into_iter()
    .enumerate()
    {
        let id = sim.add_user(
            SimUser::new(crate::sim::scenario::user_id(100 + n as u32), name, upn).synced(),
        );
        sim.detect(
            id,
            DetectionSpec::new(
                "unfamiliarFeatures",
                "signin",
                level.clone(),
                DetectionTimingType::Realtime,
            )
            .from_ip("198.51.100.23", "Lagos", "NG"),
        );
    }
    demo.chapter(
        0,
        "riskrelay starts watching",
        "A first poll records the risk that already exists and announces it once, as a summary.",
    );
    demo.posture(DriftMode::Off).await?;
    demo.poll().await?;

    demo.chapter(
        1,
        "1. A user reports an unexpected MFA prompt",
        "Adsync User 2, synced from on-premises, denies a push in Microsoft Authenticator and reports it. ID Protection records\n\"userReportedSuspiciousActivity\" and raises the user's risk to high.",
    );
    let adsync = sim.add_user(
        SimUser::new(
            crate::sim::scenario::user_id(200),
            "Adsync User 2",
            "adsync2",
        )
        .synced()
        .with_job("Finance", "Accounts Payable Clerk")
        .with_manager("Megan Bowen", "meganb@contoso.com"),
    );
    sim.detect(
        adsync,
        DetectionSpec::new(
            "userReportedSuspiciousActivity",
            "user",
            RiskLevel::High,
            DetectionTimingType::Offline,
        )
        .from_ip("203.0.113.54", "Redmond", "US"),
    );
    demo.poll().await?;

    if opts.enforce {
        demo.chapter(
            2,
            "2. The on-premises reset setting is off",
            "\"Allow on-premises password change to reset user risk\" is off. riskrelay runs in enforce mode: it switches the setting on,\nreads it back and says so.",
        );
        demo.posture(DriftMode::Enforce).await?;
    } else {
        demo.chapter(
            2,
            "2. The on-premises reset setting is off",
            "\"Allow on-premises password change to reset user risk\" is off. riskrelay reports the drift once; an administrator switches\nit back on, and riskrelay says it is back to normal. (With --enforce, riskrelay corrects it itself.)",
        );
        demo.posture(DriftMode::Report).await?;
        sim.set_setting(true);
        demo.posture(DriftMode::Report).await?;
    }
    sim.detect(
        adsync,
        DetectionSpec::new(
            "anonymizedIPAddress",
            "signin",
            RiskLevel::High,
            DetectionTimingType::Realtime,
        )
        .from_ip("185.220.101.7", "Frankfurt", "DE"),
    );
    demo.poll().await?;

    demo.chapter(
        3,
        "3. The user changes their password on-premises",
        "Adsync User 2 presses Ctrl+Alt+Del and changes their password. Password hash sync carries it to Entra, and ID Protection\nremediates the risk with \"userChangedPasswordOnPremises\".",
    );
    sim.end_risk(
        adsync,
        RiskState::Remediated,
        RiskDetail::UserChangedPasswordOnPremises,
    );
    demo.poll().await?;

    demo.chapter(4, "4. A password spray", "A password spray flags 40 users in one cycle. Each destination gets one digest instead of 40 messages.");
    for n in 0..40u32 {
        let id = sim.add_user(SimUser::new(
            crate::sim::scenario::user_id(1000 + n),
            &format!("Spray Target {:02}", n + 1),
            &format!("spray{:02}", n + 1),
        ));
        sim.detect(
            id,
            DetectionSpec::new(
                "passwordSpray",
                "signin",
                RiskLevel::Medium,
                DetectionTimingType::Offline,
            )
            .from_ip("45.153.160.2", "Amsterdam", "NL"),
        );
    }
    demo.poll().await?;

    let posted = log.lock().map(|l| l.posted.clone()).unwrap_or_default();
    if opts.print {
        println!(
            "\n{} messages; their Slack and Teams payloads are in {}",
            posted.len(),
            opts.out.display()
        );
    }
    Ok(DemoReport { posted })
}

/// Removes payload files of an earlier run so the folder holds exactly this story.
fn clear_payloads(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".slack.json") || name.ends_with(".teams.json") {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
