//! `riskrelay demo`: the whole flow against the built-in simulated tenant, no account needed.
//!
//! Every chapter changes the simulated tenant and then runs the real pipeline — a poll cycle over
//! HTTP (token, risky users, detections), reconcile, `$batch` enrichment, the posture snapshot,
//! rendering and delivery — or a posture check. Each message is printed as a person would read it
//! and written as the exact Slack and Teams payloads, one pair per message, in story order.

mod msp;
mod pagerduty;

use msp::msp_chapter;
use pagerduty::pagerduty_chapter;

mod workloads;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use secrecy::SecretString;

use riskrelay::app::{Adapters, Parts, Polls, ServiceParts, Settings};
use riskrelay::drift::DriftMode;
use riskrelay::render::View;
use riskrelay::risk::{DetectionTimingType, RiskDetail, RiskLevel, RiskState};
use riskrelay::sink::config::{SinkConfig, SinkKind};
use riskrelay::sink::console::ConsoleSink;
use riskrelay::sink::file::FileSink;
use riskrelay::store::memory::MemoryStore;
use riskrelay_sim::{DetectionSpec, SimConfig, SimUser, Simulator};

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub out: PathBuf,
    pub enforce: bool,
    pub slack_webhook: Option<SecretString>,
    pub teams_webhook: Option<SecretString>,
    /// Print each message to stdout (the CLI does; tests do not).
    pub print: bool,
    /// More than one: a last chapter watches this many simulated customer tenants as an MSP does.
    pub tenants: usize,
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
    /// The events the PagerDuty chapter's on-call service received, in order.
    pub pagerduty: Vec<serde_json::Value>,
}

struct Demo {
    sim: Simulator,
    app: ServiceParts,
    files: Arc<FileSink>,
    /// (chapter, how many messages had been written when it began)
    chapters: Mutex<Vec<(usize, usize)>>,
    print: bool,
}

impl Demo {
    fn chapter(&self, n: usize, title: &str, story: &str) {
        if let Ok(mut c) = self.chapters.lock() {
            c.push((n, self.files.written().len()));
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
        self.app.poller.poll().await.context("poll cycle")?;
        Ok(())
    }

    async fn posture(&self, mode: DriftMode) -> anyhow::Result<()> {
        let mut app = self.app.clone();
        app.base.posture.drift_mode = mode;
        app.posture_job().await?;
        Ok(())
    }

    /// Presses the button labelled `label` on the latest alert that has one: signs in as the
    /// simulated analyst `analyst` and confirms; the done page must say `done`.
    async fn act_from_alert(&self, label: &str, analyst: usize, done: &str) -> anyhow::Result<()> {
        let link = self
            .posted()
            .iter()
            .rev()
            .flat_map(|p| p.view.links.iter())
            .find(|l| l.label == label)
            .map(|l| l.url.clone())
            .with_context(|| format!("the alert carries no {label} button"))?;
        let pages = self
            .app
            .actions
            .clone()
            .context("the demo's action pages")?;
        let mut browser = riskrelay_sim::browser::Browser::new(pages, DEMO_PUBLIC_URL)?;
        let (page, _) = browser.sign_in(&link, analyst).await?;
        let answer = browser.confirm(&link, &page.body).await?;
        anyhow::ensure!(
            answer.body.contains(done),
            "the action did not go through ({})",
            answer.status
        );
        Ok(())
    }

    /// Every message written, with the chapter it belongs to.
    fn posted(&self) -> Vec<Posted> {
        let chapters = self.chapters.lock().map(|c| c.clone()).unwrap_or_default();
        self.files
            .written()
            .into_iter()
            .map(|w| {
                let chapter = chapters
                    .iter()
                    .rev()
                    .find(|(_, from)| *from < w.seq)
                    .map_or(0, |(n, _)| *n);
                Posted {
                    seq: w.seq,
                    chapter,
                    view: w.view,
                    slack_file: w.slack_file,
                    teams_file: w.teams_file,
                }
            })
            .collect()
    }
}

/// Where the demo's action links point: `riskrelay run`'s default listener.
const DEMO_PUBLIC_URL: &str = "http://127.0.0.1:8080";

pub async fn run(opts: DemoOptions) -> anyhow::Result<DemoReport> {
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("could not create {}", opts.out.display()))?;
    let files = Arc::new(
        FileSink::new(&opts.out)
            .with_context(|| format!("could not clear {}", opts.out.display()))?,
    );
    let sim = Simulator::start(SimConfig::default()).await?;
    let mut graph = sim.graph_config();
    // The simulator is not a shared tenant: no need to wait a second between risk reads.
    graph.identity_protection_rps = 50.0;
    let mut settings = Settings::with_graph(graph);
    settings.summary = riskrelay::summary::Schedule::default();
    settings.workloads = riskrelay::workload::WorkloadKind::ALL.to_vec();
    for (name, kind, url) in [
        ("slack", SinkKind::Slack, &opts.slack_webhook),
        ("teams", SinkKind::Teams, &opts.teams_webhook),
    ] {
        if let Some(url) = url {
            settings.alerts.sinks.push(SinkConfig {
                name: name.into(),
                kind,
                url: url.clone(),
                min_level: RiskLevel::Low,
                key: None,
            });
        }
    }
    // Every action on the alerts, against the simulated tenant's sign-in; the links point where
    // `riskrelay run` would serve them.
    let link_key = riskrelay::actions::oidc::random(32);
    let actions_env = riskrelay::config::Env::default()
        .with(
            "RISKRELAY_ACTIONS",
            &riskrelay::action_link::ActionKind::ALL
                .map(|a| a.name())
                .join(","),
        )
        .with("RISKRELAY_PUBLIC_URL", DEMO_PUBLIC_URL)
        .with("RISKRELAY_ACTION_LINK_KEY", &link_key);
    settings.actions = riskrelay::action_link::ActionsConfig::load(
        &actions_env,
        &riskrelay::config::EnvSecrets(&actions_env),
    )?;
    let memory = Arc::new(MemoryStore::default());
    let mut adapters = Adapters::new(memory.clone());
    adapters.inline_retry.base_delay = Duration::from_millis(200);
    if opts.print {
        adapters
            .built_sinks
            .push(Arc::new(ConsoleSink::new(RiskLevel::Low)));
    }
    adapters.built_sinks.push(files.clone());
    let built_sinks = adapters.built_sinks.clone();
    let app = ServiceParts::build(&settings, adapters)?;
    let demo = Demo {
        sim,
        app,
        files,
        chapters: Mutex::new(Vec::new()),
        print: opts.print,
    };
    let sim = &demo.sim;

    // The tenant: hybrid, password hash sync running, the setting off, no user-risk policy (but
    // one blocking high-risk workload identities), two users already at risk.
    sim.set_setting(false);
    sim.set_ca_policies(vec![riskrelay_sim::scenario::workload_risk_policy(
        "Block high-risk workload identities",
        "enabled",
    )]);
    for (n, (name, upn, level)) in [
        ("Megan Bowen", "meganb", RiskLevel::Low),
        ("Lee Gu", "leeg", RiskLevel::Medium),
    ]
    .into_iter()
    .enumerate()
    {
        let id = sim.add_user(
            SimUser::new(riskrelay_sim::scenario::user_id(100 + n as u32), name, upn).synced(),
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
            riskrelay_sim::scenario::user_id(200),
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
            riskrelay_sim::scenario::user_id(1000 + n),
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

    demo.chapter(
        5,
        "5. A user the team is already handling",
        "Lee Gu's medium risk is being handled with the helpdesk, so an analyst snoozes them for 7 days with a reason\n(riskrelay snooze leeg@contoso.com --for 7d --reason …). The snooze is posted; a new detection at the same level is held\nback; an escalation to high breaks through and says who snoozed the user and why.",
    );
    let store = demo.app.store.as_ref();
    let tenant = demo.app.tenant;
    let snooze = riskrelay::snooze::new(
        "leeg@contoso.com",
        time::Duration::days(7),
        "password reset booked with the helpdesk",
        "alice@contoso.com",
        None,
        demo.app.clock.now(),
    )
    .map_err(anyhow::Error::msg)?;
    riskrelay::features::snooze::update(store, tenant, |b| b.add(snooze.clone())).await?;
    let lee = riskrelay_sim::scenario::user_id(101);
    sim.detect(
        lee,
        DetectionSpec::new(
            "unfamiliarFeatures",
            "signin",
            RiskLevel::Medium,
            DetectionTimingType::Realtime,
        )
        .from_ip("198.51.100.23", "Lagos", "NG"),
    );
    demo.poll().await?;
    sim.detect(
        lee,
        DetectionSpec::new(
            "anonymizedIPAddress",
            "signin",
            RiskLevel::High,
            DetectionTimingType::Realtime,
        )
        .from_ip("185.220.101.7", "Frankfurt", "DE"),
    );
    sim.set_risk(lee, RiskLevel::High, RiskState::AtRisk, RiskDetail::None);
    demo.poll().await?;

    demo.chapter(
        6,
        "6. The next morning",
        "At 08:00 UTC each destination gets the standing summary: who is still at risk, at what level, whether they can fix it\nthemselves, and who is snoozed. (The demo moves its clock forward a day for this.)",
    );
    demo.app
        .poller
        .ask_for_summary(demo.app.clock.now() + time::Duration::days(1))
        .await?;

    demo.chapter(
        7,
        "7. An analyst acts from the alert",
        "Isaiah Langer's credentials turn up in a leak. The alert carries buttons; an analyst presses \"Confirm compromised\", signs in\nto Entra as secops@contoso.com (a Security Operator) and confirms. Entra records it under the analyst's name, every\ndestination hears who did it, and the next poll's alert about the compromise says so instead of reading as news.",
    );
    let isaiah = sim.add_user(
        SimUser::new(
            riskrelay_sim::scenario::user_id(300),
            "Isaiah Langer",
            "isaiahl",
        )
        .synced()
        .with_job("Sales", "Sales Rep"),
    );
    sim.detect(
        isaiah,
        DetectionSpec::new(
            "leakedCredentials",
            "user",
            RiskLevel::High,
            DetectionTimingType::Offline,
        ),
    );
    demo.poll().await?;
    demo.act_from_alert(
        riskrelay::action_link::ActionKind::Confirm.label(),
        riskrelay_sim::signin::ANALYST_SECURITY_OPERATOR,
        "Confirmed compromised",
    )
    .await?;
    demo.poll().await?;

    demo.chapter(
        8,
        "8. A page that closes itself",
        "On-call is paged through PagerDuty for high risk only (oncall:pagerduty:high). Nestor Wilke's risk turns high: a trigger\nopens an incident. ID Protection lowers it to medium: the same incident is updated at its new severity, not paged again.\nHe changes his password: a resolve closes the incident, although the risk ended below the on-call level.",
    );
    let pagerduty = pagerduty_chapter(
        &demo,
        &settings,
        memory,
        built_sinks.clone(),
        &opts.out,
        opts.print,
    )
    .await?;

    demo.chapter(
        9,
        "9. A leaked pipeline secret, and an AI agent",
        "The build pipeline's client secret \"ci-deploy\" is pushed to a public repository. ID Protection flags its service principal\nhigh risk. A workload identity cannot remediate its own risk, so the alert names the secret, who owns the app and what it\ncan reach, and what to do. appsec@contoso.com (a Security Administrator and Cloud Application Administrator) presses\n\"Disable service principal\". Then an AI agent's bulk calls are flagged; its owner explains a planned migration, and the\nanalyst confirms it safe: the next poll says its risk ended and who ended it.",
    );
    workloads::workloads_chapter(&demo).await?;

    if opts.tenants > 1 {
        demo.chapter(
            10,
            &format!("10. One deployment, {} customer tenants", opts.tenants),
            "A managed service provider watches its customers' tenants from one riskrelay (RISKRELAY_TENANTS=registry). Each tenant\nhas its own Graph budget, so they are polled side by side. At Contoso a user's credentials leak; Fabrikam's administrator\nremoves riskrelay's access. The alert names its tenant; the lost access is said once, and the other tenants carry on.",
        );
        msp_chapter(&settings, built_sinks, opts.tenants, opts.print).await?;
    }

    let posted = demo.posted();
    if opts.print {
        println!(
            "\n{} messages; their Slack and Teams payloads are in {}, the PagerDuty events in {}",
            posted.len(),
            opts.out.display(),
            opts.out.join("pagerduty").display()
        );
    }
    Ok(DemoReport { posted, pagerduty })
}
