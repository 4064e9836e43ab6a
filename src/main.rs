//! The `riskrelay` command line. Wiring only: each command reads its configuration, builds the
//! parts from the library and runs them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use riskrelay::app::Parts;
use riskrelay::config::{
    AlertsConfig, ClientStates, Env, EnvSecrets, GraphConfig, PostureConfig, WebhookConfig,
    check_webhook_url, parse_seconds, poll_overlap, tenant_id,
};
use riskrelay::graph::GraphClient;
use riskrelay::poll::Poller;
use riskrelay::queue::memory::MemoryQueue;
use riskrelay::risk::RiskLevel;
use riskrelay::service::{InlineQueue, PollSignal, Schedule, Service};
use riskrelay::sim::{SimConfig, Simulator, scenario};
use riskrelay::sink::{ConsoleSink, Sink};
use riskrelay::store::Store;
use riskrelay::store::memory::MemoryStore;
use riskrelay::store::sqlite::SqliteStore;
use riskrelay::subscriptions::SubscriptionsConfig;
use riskrelay::telemetry::{self, LogFormat};
use riskrelay::webhook::Webhook;
use secrecy::SecretString;

#[derive(Parser)]
#[command(
    name = "riskrelay",
    version,
    about = "Entra user-risk alerts for Slack and Teams, and a guard for on-premises self-remediation"
)]
struct Cli {
    /// Log format on stderr (default: text on a terminal, or RISKRELAY_LOG_FORMAT).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Play the whole flow against a built-in simulated tenant (no account needed).
    Demo {
        /// Folder for the Slack and Teams payloads, one pair per message.
        #[arg(long, default_value = "riskrelay-demo")]
        out: PathBuf,
        /// Let riskrelay correct the drifted setting itself.
        #[arg(long)]
        enforce: bool,
        /// Also post each message to this Slack incoming webhook.
        #[arg(long, value_name = "URL")]
        slack_webhook: Option<String>,
        /// Also post each message to this Teams Workflows webhook.
        #[arg(long, value_name = "URL")]
        teams_webhook: Option<String>,
    },
    /// The self-hosted service: webhook server, scheduler, worker and SQLite store in one process.
    Run {
        /// One posture check and one poll cycle with their deliveries, then exit.
        #[arg(long)]
        once: bool,
        /// Against the built-in simulated tenant instead of a real one.
        #[arg(long)]
        simulate: bool,
        /// Where the webhook listens (needs RISKRELAY_CLIENT_STATE, or --simulate).
        #[arg(long, env = "RISKRELAY_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The SQLite database file.
        #[arg(
            long,
            env = "RISKRELAY_SQLITE_PATH",
            default_value = "riskrelay.sqlite"
        )]
        db: PathBuf,
        /// Also print every message on stdout (on by default when no chat sink is configured).
        #[arg(long)]
        console: bool,
    },
    /// Check the tenant's posture now: the on-premises reset setting, password hash sync, and
    /// the user-risk Conditional Access policy. Exit 0 all well, 1 a finding, 2 could not check.
    Check {
        /// Machine-readable JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Correct the on-premises reset setting if it is off.
        #[arg(long)]
        enforce: bool,
        /// Against the built-in simulated tenant.
        #[arg(long)]
        simulate: bool,
    },
    /// Create, renew or remove the Graph subscriptions RISKRELAY_SUBSCRIPTIONS lists.
    Subscribe,
    /// Replay a Lambda event file from events/: a Function URL request through the webhook, or an
    /// SQS batch decoded as the worker would read it.
    Replay { file: PathBuf },
    /// Run the Graph webhook locally and print each accepted observation or lifecycle event as a
    /// JSON line on stdout.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match cli.log_format {
        Some(LogArg::Json) => LogFormat::Json,
        Some(LogArg::Text) => LogFormat::Text,
        None => LogFormat::from_env(),
    };
    telemetry::init(format);
    match run(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("riskrelay: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo {
            out,
            enforce,
            slack_webhook,
            teams_webhook,
        } => demo(out, enforce, slack_webhook, teams_webhook).await,
        Command::Run {
            once,
            simulate,
            listen,
            db,
            console,
        } => service(once, simulate, listen, db, console).await,
        Command::Check {
            json,
            enforce,
            simulate,
        } => check(json, enforce, simulate).await,
        Command::Subscribe => subscribe().await,
        Command::Replay { file } => replay(file).await,
        Command::Serve { listen } => serve(listen).await,
    }
}

fn webhook_arg(name: &str, url: Option<String>) -> anyhow::Result<Option<SecretString>> {
    url.map(|u| {
        // The reason never quotes the URL: it is a credential.
        check_webhook_url(&u).map_err(|r| anyhow::anyhow!("--{name}: {r}"))?;
        Ok(SecretString::from(u))
    })
    .transpose()
}

async fn demo(
    out: PathBuf,
    enforce: bool,
    slack: Option<String>,
    teams: Option<String>,
) -> anyhow::Result<ExitCode> {
    let options = riskrelay::demo::DemoOptions {
        out,
        enforce,
        slack_webhook: webhook_arg("slack-webhook", slack)?,
        teams_webhook: webhook_arg("teams-webhook", teams)?,
        print: true,
    };
    riskrelay::demo::run(options).await?;
    Ok(ExitCode::SUCCESS)
}

/// A running simulated tenant and a Graph configuration for it.
async fn simulated() -> anyhow::Result<(Simulator, GraphConfig)> {
    let sim = Simulator::start(SimConfig::default()).await?;
    scenario::seed_service(&sim);
    let mut config = sim.graph_config();
    // The simulator does not share a real tenant's budget.
    config.identity_protection_rps = 20.0;
    Ok((sim, config))
}

async fn service(
    once: bool,
    simulate: bool,
    listen: SocketAddr,
    db: PathBuf,
    console: bool,
) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let secrets = EnvSecrets(&env);
    let (sim, graph_config) = if simulate {
        let (sim, config) = simulated().await?;
        (Some(sim), config)
    } else {
        (None, GraphConfig::load(&env, &secrets)?)
    };
    let tenant = graph_config.tenant_id;
    let alerts = AlertsConfig::load(&env, &secrets)?;
    let posture = PostureConfig::load(&env)?;
    let subscriptions = SubscriptionsConfig::load(&env)?;
    let schedule = Schedule {
        poll: env.or(
            "RISKRELAY_POLL_INTERVAL_SECONDS",
            "seconds, 30 to 86400",
            Schedule::default().poll,
            parse_seconds(30..=86_400),
        )?,
        posture: env.or(
            "RISKRELAY_POSTURE_INTERVAL_SECONDS",
            "seconds, 60 to 86400",
            Schedule::default().posture,
            parse_seconds(60..=86_400),
        )?,
        subscriptions: Schedule::default().subscriptions,
    };
    let client_states = match ClientStates::load(&secrets) {
        Ok(c) => Some(c),
        Err(_) if simulate => {
            // A throwaway secret for the simulated tenant's subscriptions.
            let e = Env::default().with(
                "RISKRELAY_CLIENT_STATE",
                &uuid::Uuid::new_v4().simple().to_string(),
            );
            Some(ClientStates::load(&EnvSecrets(&e))?)
        }
        Err(_) => None,
    };
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?);
    let graph = GraphClient::new(&graph_config)?;
    let parts = Parts {
        tenant,
        graph: graph.clone(),
        store: store.clone(),
        http: riskrelay::graph::http_client(Duration::from_secs(15))?,
    };
    let mut local: Vec<Arc<dyn Sink>> = Vec::new();
    if console || alerts.sinks.is_empty() {
        if alerts.sinks.is_empty() {
            tracing::warn!(
                "no Slack or Teams destination is configured; messages are printed on stdout"
            );
        }
        local.push(Arc::new(ConsoleSink::new(RiskLevel::Low)));
    }
    let poll_signal = Arc::new(tokio::sync::Notify::new());
    let upkeep = client_states.as_ref().map(|cs| {
        Arc::new(
            parts
                .upkeep(subscriptions.clone(), cs.clone())
                .with_poll_trigger(Arc::new(PollSignal(poll_signal.clone()))),
        )
    });
    let worker = Arc::new(parts.worker(parts.delivery(&alerts, local), upkeep.clone()));
    let poller = Arc::new(Poller::new(
        tenant,
        graph.clone(),
        store.clone(),
        Arc::new(InlineQueue::new(worker.clone())),
        poll_overlap(&env)?,
    ));
    let webhook = client_states.map(|client_states| {
        (
            listen,
            WebhookConfig {
                tenant_id: tenant,
                client_states,
            },
        )
    });
    if webhook.is_none() {
        tracing::info!("webhook disabled: RISKRELAY_CLIENT_STATE is not set");
    }
    let svc = Arc::new(Service {
        poller,
        worker,
        store,
        graph,
        tenant,
        posture,
        upkeep,
        webhook,
        schedule,
    });

    if once {
        let report = svc.once().await;
        for f in &report.failures {
            tracing::error!("{f}");
        }
        return Ok(if report.failures.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ticker = sim.map(|sim| {
        tokio::spawn(async move {
            let mut step = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                scenario::tick(&sim, step);
                step += 1;
            }
        })
    });
    let running = tokio::spawn(svc.run(stop_rx));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    if let Some(t) = ticker {
        t.abort();
    }
    running.await??;
    Ok(ExitCode::SUCCESS)
}

async fn check(json: bool, enforce: bool, simulate: bool) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let (_sim, graph_config) = if simulate {
        let (sim, config) = simulated().await?;
        (Some(sim), config)
    } else {
        (None, GraphConfig::load(&env, &EnvSecrets(&env))?)
    };
    let mut posture = PostureConfig::load(&env)?;
    if enforce {
        posture.drift_mode = riskrelay::drift::DriftMode::Enforce;
    } else if posture.drift_mode == riskrelay::drift::DriftMode::Off {
        // `check` always reports the setting, even when the service's guard is off.
        posture.drift_mode = riskrelay::drift::DriftMode::Report;
    }
    let store = optional_store(&env)?;
    let graph = GraphClient::new(&graph_config)?;
    let run = riskrelay::checks::run(
        &graph,
        store.as_ref(),
        graph_config.tenant_id,
        &posture,
        time::OffsetDateTime::now_utc(),
    )
    .await?;
    run.commit(store.as_ref()).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&riskrelay::checks::json(&run.report))?
        );
    } else {
        use std::io::IsTerminal as _;
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        print!("{}", riskrelay::checks::human(&run.report, color));
    }
    Ok(ExitCode::from(run.report.exit_code()))
}

async fn subscribe() -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let secrets = EnvSecrets(&env);
    let graph_config = GraphConfig::load(&env, &secrets)?;
    let store = optional_store(&env)?;
    let parts = Parts {
        tenant: tenant_id(&env)?,
        graph: GraphClient::new(&graph_config)?,
        store,
        http: reqwest::Client::new(),
    };
    let upkeep = parts.upkeep(
        SubscriptionsConfig::load(&env)?,
        ClientStates::load(&secrets)?,
    );
    let r = upkeep
        .ensure(time::OffsetDateTime::now_utc())
        .await
        .map_err(anyhow::Error::msg)?;
    println!(
        "created {:?}, renewed {:?}, recreated {:?}, deleted {:?}",
        r.created, r.renewed, r.recreated, r.deleted
    );
    Ok(ExitCode::SUCCESS)
}

/// Replays a Lambda event file: a Function URL request goes through the webhook (printing what it
/// enqueues); an SQS batch is decoded message by message (what the worker would receive, and which
/// messages it would reject as unreadable).
async fn replay(file: PathBuf) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    if let Ok(batch) = serde_json::from_str::<aws_lambda_events::sqs::SqsEvent>(&text)
        && !batch.records.is_empty()
    {
        let mut unreadable = 0;
        for r in batch.records {
            let id = r.message_id.unwrap_or_default();
            match r
                .body
                .as_deref()
                .map(serde_json::from_str::<riskrelay::observation::WorkItem>)
            {
                Some(Ok(item)) => println!("{id}\t{}", serde_json::to_string(&item)?),
                _ => {
                    unreadable += 1;
                    println!("{id}\tunreadable: the worker reports it as a batch item failure");
                }
            }
        }
        return Ok(if unreadable == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let env = Env::from_process();
    let config = WebhookConfig::load(&env, &EnvSecrets(&env))?;
    let (queue, mut rx) = MemoryQueue::new();
    let app = Webhook::new(&config, Arc::new(queue));
    let request = lambda_http::request::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is neither a Function URL event nor an SQS batch: {e}",
            file.display()
        )
    })?;
    let response = app.handle(riskrelay::webhook::from_lambda(request)).await;
    eprintln!("HTTP {}", response.status().as_u16());
    drop(app);
    while let Some(item) = rx.recv().await {
        println!("{}", serde_json::to_string(&item)?);
    }
    Ok(if response.status().is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn serve(listen: SocketAddr) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let config = WebhookConfig::load(&env, &EnvSecrets(&env)).context("configuration")?;
    let (queue, mut rx) = MemoryQueue::new();
    let app = Arc::new(Webhook::new(&config, Arc::new(queue)));
    let listener = riskrelay::server::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, "webhook listening");
    let printer = tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            match serde_json::to_string(&item) {
                Ok(line) => println!("{line}"),
                Err(e) => tracing::error!(error = %e, "could not print an item"),
            }
        }
    });
    riskrelay::server::serve(listener, app, shutdown_signal()).await;
    printer.abort();
    Ok(ExitCode::SUCCESS)
}

/// The SQLite store when `RISKRELAY_SQLITE_PATH` is set (so `check` and `subscribe` share the
/// service's memory of episodes and subscriptions), else a throwaway one.
fn optional_store(env: &Env) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match env.get("RISKRELAY_SQLITE_PATH") {
        Some(p) => Arc::new(SqliteStore::open(std::path::Path::new(p))?),
        None => Arc::new(MemoryStore::default()),
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}
