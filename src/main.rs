//! The `riskrelay` command line. Wiring only: each command reads its configuration, builds the
//! parts from the library and runs them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use riskrelay::app::{Adapters, App, Role, Settings};
use riskrelay::checks::PostureConfig;
use riskrelay::client_state::ClientStates;
use riskrelay::config::{Env, EnvSecrets, check_webhook_url};
use riskrelay::drift::DriftMode;
use riskrelay::graph::config::GraphConfig;
use riskrelay::queue::memory::MemoryQueue;
use riskrelay::risk::RiskLevel;
use riskrelay::service::{PollSignal, Schedule, Service};
use riskrelay::sim::{SimConfig, Simulator, scenario};
use riskrelay::sink::console::ConsoleSink;
use riskrelay::source::webhook::{Webhook, WebhookConfig};
use riskrelay::store::Store;
use riskrelay::store::memory::MemoryStore;
use riskrelay::store::sqlite::SqliteStore;
use riskrelay::telemetry::{self, LogFormat};
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
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
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
        /// Add a chapter in which one deployment watches this many simulated customer tenants
        /// (the MSP mode).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
        tenants: u16,
    },
    /// The self-hosted service: webhook server, scheduler, worker and SQLite store in one process.
    Run {
        /// One posture check and one poll cycle with their deliveries, then exit.
        #[arg(long)]
        once: bool,
        /// Against the built-in simulated tenant instead of a real one.
        #[arg(long)]
        simulate: bool,
        /// With --simulate: this many simulated tenants, watched as an MSP watches its
        /// customers' (each registered, with its own budget and story).
        #[arg(long, default_value_t = 1, requires = "simulate", value_parser = clap::value_parser!(u16).range(1..=1000))]
        tenants: u16,
        /// Where the webhook (needs RISKRELAY_CLIENT_STATE, or --simulate) and the action pages (RISKRELAY_ACTIONS) listen.
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
    /// List the messages `riskrelay run` set aside because a destination would not take them, or
    /// post them to that destination again. Uses the service's settings and database.
    Parked {
        /// Post them again: `all`, or one id from the list. Each one that arrives leaves the list.
        #[arg(long, value_name = "ID|all")]
        replay: Option<String>,
        /// The service's SQLite database file.
        #[arg(
            long,
            env = "RISKRELAY_SQLITE_PATH",
            default_value = "riskrelay.sqlite"
        )]
        db: PathBuf,
    },
    /// Snooze a user the team is handling: their alerts are held back (an escalation above
    /// today's level, a compromise and the end of the risk still post), and the snooze itself is
    /// posted at the next poll cycle. Works on the service's SQLite file or, with --table, on
    /// the deployment's DynamoDB table (the usual AWS credentials).
    #[command(group(clap::ArgGroup::new("what").args(["user", "list", "clear"]).required(true)))]
    Snooze {
        /// The user: user principal name or object id.
        user: Option<String>,
        /// How long: 30m, 12h, 7d, 2w; at most 30 days.
        #[arg(long = "for", value_name = "DURATION", requires = "user")]
        duration: Option<String>,
        /// Why; posted with the snooze and with every alert that breaks through it.
        #[arg(long, requires = "user")]
        reason: Option<String>,
        /// Who is snoozing (default: the USER environment variable).
        #[arg(long)]
        by: Option<String>,
        /// List the running snoozes.
        #[arg(long, conflicts_with_all = ["user", "clear"])]
        list: bool,
        /// Lift a user's snooze now.
        #[arg(long, value_name = "USER", conflicts_with = "user")]
        clear: Option<String>,
        /// The service's SQLite database file.
        #[arg(
            long,
            env = "RISKRELAY_SQLITE_PATH",
            default_value = "riskrelay.sqlite",
            conflicts_with = "table"
        )]
        db: PathBuf,
        /// The deployment's DynamoDB table instead of a SQLite file.
        #[arg(long, env = "RISKRELAY_TABLE_NAME")]
        table: Option<String>,
        /// The tenant the user is in (an MSP deployment; default RISKRELAY_TENANT_ID).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// The tenants an MSP deployment watches (RISKRELAY_TENANTS=registry). Works on the
    /// service's SQLite file or, with --table, on the deployment's DynamoDB table.
    Tenants {
        #[command(subcommand)]
        action: TenantsAction,
        /// The service's SQLite database file (created when missing).
        #[arg(
            long,
            global = true,
            env = "RISKRELAY_SQLITE_PATH",
            default_value = "riskrelay.sqlite",
            conflicts_with = "table"
        )]
        db: PathBuf,
        /// The deployment's DynamoDB table instead of a SQLite file.
        #[arg(long, global = true, env = "RISKRELAY_TABLE_NAME")]
        table: Option<String>,
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

#[derive(Subcommand)]
enum TenantsAction {
    /// Register a tenant and print the admin-consent URL for its administrator. It is pending
    /// until riskrelay gets a token for it. Again on a registered tenant: updates its record.
    Add {
        /// The tenant id (a GUID).
        tenant: String,
        /// Its name, shown in every message about it.
        #[arg(long)]
        name: String,
        /// Its own destinations, by name from RISKRELAY_SINKS (default: the shared ones, those
        /// no tenant names).
        #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
        sinks: Vec<String>,
        /// Its drift guard: off, report or enforce (default: RISKRELAY_DRIFT_MODE).
        #[arg(long)]
        drift_mode: Option<String>,
        /// Its users who never get an alert, as RISKRELAY_EXCLUDE (default: RISKRELAY_EXCLUDE).
        #[arg(long, value_name = "LIST")]
        exclude: Option<String>,
    },
    /// Every registered tenant with its consent state, last poll and last error.
    List {
        /// Machine-readable JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print a registered tenant's admin-consent URL again.
    ConsentUrl { tenant: String },
    /// Stop watching a tenant.
    Remove { tenant: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.log_format.unwrap_or_else(LogFormat::from_env);
    match cli.command {
        // The demo's story is on stdout; its log only says what went wrong.
        Command::Demo { .. } => telemetry::init_at(format, "warn"),
        _ => telemetry::init(format),
    }
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
            tenants,
        } => demo(out, enforce, slack_webhook, teams_webhook, tenants as usize).await,
        Command::Run {
            once,
            simulate,
            tenants,
            listen,
            db,
            console,
        } => {
            service(
                once,
                simulate.then_some(tenants as usize),
                listen,
                db,
                console,
            )
            .await
        }
        Command::Check {
            json,
            enforce,
            simulate,
        } => check(json, enforce, simulate).await,
        Command::Parked { replay, db } => parked(replay, db).await,
        Command::Snooze {
            user,
            duration,
            reason,
            by,
            list,
            clear,
            db,
            table,
            tenant,
        } => {
            let store = snooze_store(db, table, tenant).await?;
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .filter(|b| !b.trim().is_empty())
                .context("say who is snoozing with --by (USER is not set)");
            match (user, clear) {
                _ if list => snooze_list(store).await,
                (_, Some(user)) => snooze_clear(store, &user, &by?).await,
                (Some(user), None) => {
                    snooze(store, &user, duration.as_deref(), reason.as_deref(), &by?).await
                }
                (None, None) => anyhow::bail!("name a user, or use --list or --clear"),
            }
        }
        Command::Tenants { action, db, table } => tenants(action, db, table).await,
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
    tenants: usize,
) -> anyhow::Result<ExitCode> {
    let options = riskrelay::demo::DemoOptions {
        out,
        enforce,
        slack_webhook: webhook_arg("slack-webhook", slack)?,
        teams_webhook: webhook_arg("teams-webhook", teams)?,
        print: true,
        tenants,
    };
    riskrelay::demo::run(options).await?;
    Ok(ExitCode::SUCCESS)
}

/// A running simulated tenant and a Graph configuration for it.
async fn simulated() -> anyhow::Result<(Simulator, GraphConfig)> {
    let (mut sims, config) = simulated_many(1).await?;
    Ok((sims.remove(0), config))
}

/// `n` simulated tenants on one server, each with the service's story, and a Graph configuration
/// for the first.
async fn simulated_many(n: usize) -> anyhow::Result<(Vec<Simulator>, GraphConfig)> {
    let sims = Simulator::start_many((0..n).map(SimConfig::tenant).collect()).await?;
    for sim in &sims {
        scenario::seed_service(sim);
    }
    let mut config = sims[0].graph_config();
    // The simulator does not share a real tenant's budget.
    config.identity_protection_rps = 20.0;
    Ok((sims, config))
}

/// The settings from the environment, against the simulated tenant when `simulate` is set.
/// The actions `run --simulate` offers: all of them, at the listening address.
fn simulated_actions(
    listen: SocketAddr,
) -> anyhow::Result<Option<riskrelay::action_link::ActionsConfig>> {
    let host = if listen.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        listen.ip()
    };
    let e = Env::default()
        .with("RISKRELAY_ACTIONS", "confirm,dismiss,revoke,snooze")
        .with(
            "RISKRELAY_PUBLIC_URL",
            &format!("http://{}", SocketAddr::new(host, listen.port())),
        )
        .with(
            "RISKRELAY_ACTION_LINK_KEY",
            &riskrelay::actions::oidc::random(32),
        );
    Ok(riskrelay::action_link::ActionsConfig::load(
        &e,
        &EnvSecrets(&e),
    )?)
}

async fn settings(
    env: &Env,
    simulate: Option<usize>,
    listen: SocketAddr,
) -> anyhow::Result<(Vec<Simulator>, Settings)> {
    let secrets = EnvSecrets(env);
    let Some(n) = simulate else {
        return Ok((Vec::new(), Settings::load(env, &secrets)?));
    };
    let (sims, graph) = simulated_many(n).await?;
    let mut settings = Settings::load_with_graph(env, &secrets, graph)?;
    if settings.client_states.is_none() {
        // A throwaway secret for the simulated tenants' subscriptions and the webhook.
        let e = Env::default().with(
            "RISKRELAY_CLIENT_STATE",
            &uuid::Uuid::new_v4().simple().to_string(),
        );
        settings.client_states = Some(ClientStates::load(&EnvSecrets(&e))?);
    }
    if n == 1 && settings.actions.is_none() && env.get("RISKRELAY_ACTIONS").is_none() {
        // Every action, against the simulated tenant's sign-in, with a throwaway link key.
        settings.actions = simulated_actions(listen)?;
    }
    Ok((sims, settings))
}

async fn service(
    once: bool,
    simulate: Option<usize>,
    listen: SocketAddr,
    db: PathBuf,
    console: bool,
) -> anyhow::Result<ExitCode> {
    use riskrelay::tenancy::Mode;
    let env = Env::from_process();
    let (sims, settings) = settings(&env, simulate, listen).await?;
    let mode = match simulate {
        Some(n) if n > 1 => Mode::Registry,
        _ => Mode::load(&env)?,
    };
    let schedule = Schedule::load(&env)?;
    let store: Arc<dyn Store> = Arc::new(sqlite(&env, &db)?);
    if mode == Mode::Registry && sims.len() > 1 {
        riskrelay::fleet::register_simulated(store.as_ref(), &sims).await?;
    }
    let mut adapters = Adapters::new(store.clone());
    if console || settings.alerts.sinks.is_empty() {
        if settings.alerts.sinks.is_empty() {
            tracing::warn!(
                "no Slack or Teams destination is configured; messages are printed on stdout"
            );
        }
        adapters
            .local_sinks
            .push(Arc::new(ConsoleSink::new(RiskLevel::Low)));
    }
    let poll_now = Arc::new(tokio::sync::Notify::new());
    adapters.poll_trigger = Some(Arc::new(PollSignal(poll_now.clone())));
    let fleet = riskrelay::fleet::Fleet::build(
        &settings,
        riskrelay::app::service_parts,
        adapters,
        mode,
        riskrelay::fleet::concurrency(&env)?,
    )?
    .delivering();
    if mode == Mode::Registry {
        let n = fleet.registry().await?.tenants.len();
        if n == 0 {
            tracing::warn!(
                "RISKRELAY_TENANTS=registry and no tenant is registered yet (riskrelay tenants add)"
            );
        }
        tracing::info!(tenants = n, "watching the registered tenants");
    }
    let webhook = settings
        .client_states
        .clone()
        .map(|client_states| match mode {
            Mode::Config => riskrelay::source::webhook::Tenants::One(WebhookConfig {
                tenant_id: settings.tenant(),
                client_states,
            }),
            Mode::Registry => riskrelay::source::webhook::Tenants::Registry(Arc::new(
                riskrelay::source::webhook::RegisteredTenants::new(client_states, store.clone()),
            )),
        });
    if webhook.is_none() {
        tracing::info!("webhook disabled: RISKRELAY_CLIENT_STATE is not set");
    }
    let svc = Arc::new(Service {
        fleet: Arc::new(fleet),
        listen,
        webhook,
        schedule,
        poll_now,
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
    let tick = env.or(
        "RISKRELAY_SIMULATE_TICK_SECONDS",
        "seconds, 1 to 3600",
        SIMULATED_TICK,
        riskrelay::config::seconds(1..=3600),
    )?;
    let ticker = (!sims.is_empty()).then(|| {
        tokio::spawn(async move {
            let mut step = 0;
            loop {
                tokio::time::sleep(tick).await;
                for sim in &sims {
                    scenario::tick(sim, step);
                }
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

/// How often `run --simulate` moves its simulated tenant's story on, unless
/// `RISKRELAY_SIMULATE_TICK_SECONDS` says otherwise.
const SIMULATED_TICK: Duration = Duration::from_secs(30);

async fn check(json: bool, enforce: bool, simulate: bool) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let (_sim, settings) = match simulate {
        true => {
            let (sim, graph) = simulated().await?;
            (Some(sim), Settings::with_graph(graph))
        }
        false => (None, Settings::load(&env, &EnvSecrets(&env))?),
    };
    let app = App::build(&settings, Role::Tool, Adapters::new(optional_store(&env)?))?;
    let mut posture = PostureConfig::load(&env)?;
    if enforce {
        posture.drift_mode = DriftMode::Enforce;
    } else if posture.drift_mode == DriftMode::Off {
        // `check` always reports the setting, even when the service's guard is off.
        posture.drift_mode = DriftMode::Report;
    }
    let run = riskrelay::checks::run(
        &app.graph,
        app.store.as_ref(),
        app.tenant,
        &posture,
        app.clock.now(),
    )
    .await?;
    run.commit(app.store.as_ref()).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&riskrelay::checks::report::json(&run.report))?
        );
    } else {
        use std::io::IsTerminal as _;
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        print!("{}", riskrelay::checks::report::human(&run.report, color));
    }
    Ok(ExitCode::from(run.report.exit_code()))
}

async fn parked(replay: Option<String>, db: PathBuf) -> anyhow::Result<ExitCode> {
    use riskrelay::parking::{self, Selection};
    if !db.exists() {
        anyhow::bail!(
            "there is no database at {} (set --db or RISKRELAY_SQLITE_PATH to the service's)",
            db.display()
        );
    }
    let env = Env::from_process();
    let settings = Settings::load(&env, &EnvSecrets(&env))?;
    let store: Arc<dyn Store> = Arc::new(sqlite(&env, &db)?);
    let Some(which) = replay else {
        let list = parking::list(store.as_ref(), settings.tenant()).await?;
        if list.is_empty() {
            println!("nothing is parked");
        }
        for p in list {
            println!(
                "{}\t{}\t{}\t{} attempt{}\t{}\t{}",
                p.id,
                p.sink,
                p.parked_at
                    .format(&time::format_description::well_known::Rfc3339)?,
                p.attempts,
                if p.attempts == 1 { "" } else { "s" },
                shown(&parking::summary(&p.message)),
                shown(&riskrelay::redact::scrub(&p.error))
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let which = match which.as_str() {
        "all" => Selection::All,
        id => Selection::One(id.to_string()),
    };
    let app = App::build(&settings, Role::Worker, Adapters::new(store))?;
    let outcomes = app.worker()?.replay_parked(&which).await?;
    let mut failed = 0;
    for (id, outcome) in &outcomes {
        match outcome {
            Ok(()) => println!("{id}\tdelivered"),
            Err(e) => {
                failed += 1;
                println!("{id}\tstill parked: {}", shown(e));
            }
        }
    }
    if outcomes.is_empty() {
        println!("nothing is parked");
    }
    Ok(ExitCode::from(u8::from(failed > 0)))
}

/// The store of the tenant registry: the service's SQLite file (created when missing) or the
/// deployment's table.
async fn registry_store(db: PathBuf, table: Option<String>) -> anyhow::Result<Arc<dyn Store>> {
    let env = Env::from_process();
    Ok(match table {
        Some(table) => Arc::new(riskrelay::store::dynamo::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&riskrelay::aws::config().await),
            table,
        )),
        None => Arc::new(sqlite(&env, &db)?),
    })
}

fn tenant_arg(s: &str) -> anyhow::Result<riskrelay::ids::TenantId> {
    let id = riskrelay::ids::TenantId::parse(s.trim())
        .map_err(|e| anyhow::anyhow!("the tenant must be its id: {e}"))?;
    // The nil GUID is no tenant: riskrelay keeps the deployment's own records under it.
    if id == riskrelay::tenancy::deployment() {
        anyhow::bail!("the tenant must be its id, not the nil GUID");
    }
    Ok(id)
}

/// Text from a store or an upstream, safe to print on a terminal.
fn shown(text: &str) -> String {
    riskrelay::render::escape::terminal(text)
}

async fn tenants(
    action: TenantsAction,
    db: PathBuf,
    table: Option<String>,
) -> anyhow::Result<ExitCode> {
    use riskrelay::fleet;
    use riskrelay::graph::config::ConsentLink;
    use riskrelay::tenancy::TenantRecord;
    let env = Env::from_process();
    match action {
        TenantsAction::Add {
            tenant,
            name,
            sinks,
            drift_mode,
            exclude,
        } => {
            let id = tenant_arg(&tenant)?;
            let name = TenantRecord::check_name(&name).map_err(anyhow::Error::msg)?;
            // The destinations a tenant names must be configured ones: a typo would otherwise
            // silently send its alerts nowhere.
            let configured = riskrelay::sink::config::names(&env)?;
            let sinks: Vec<String> = sinks
                .iter()
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            if let Some(unknown) = sinks.iter().find(|s| !configured.contains(s)) {
                anyhow::bail!(
                    "--sinks: \"{unknown}\" is not a destination of RISKRELAY_SINKS (configured: {})",
                    if configured.is_empty() {
                        "none".to_string()
                    } else {
                        configured.join(", ")
                    }
                );
            }
            let drift_mode = drift_mode
                .map(|m| m.parse::<DriftMode>())
                .transpose()
                .map_err(|e| anyhow::anyhow!("--drift-mode: {e}"))?;
            if let Some(list) = &exclude {
                riskrelay::exclusions::Exclusions::parse(list)
                    .map_err(|e| anyhow::anyhow!("--exclude: {e}"))?;
            }
            let link = ConsentLink::load(&env)?;
            let store = registry_store(db, table).await?;
            let record = TenantRecord {
                id,
                name: name.clone(),
                sinks,
                drift_mode,
                exclude,
                added_at: time::OffsetDateTime::now_utc(),
            };
            let new = fleet::register(store.as_ref(), record).await?;
            println!(
                "{} {} ({id}).\nIts administrator grants riskrelay access here (a Global Administrator or Privileged Role Administrator of that tenant):\n\n{}\n\nriskrelay confirms it with the first token it gets; until then `riskrelay tenants list` shows it as pending.",
                if new { "Added" } else { "Updated" },
                shown(&name),
                link.url(id)
            );
            Ok(ExitCode::SUCCESS)
        }
        TenantsAction::List { json } => {
            let store = registry_store(db, table).await?;
            let list = fleet::statuses(store.as_ref()).await?;
            let fmt = |t: Option<time::OffsetDateTime>| {
                t.and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| "-".into())
            };
            if json {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|(r, s)| {
                        serde_json::json!({
                            "id": r.id, "name": r.name, "sinks": r.sinks, "driftMode": r.drift_mode,
                            "exclude": r.exclude, "consent": s.consent, "refusal": s.refusal, "since": s.since.map(|t| fmt(Some(t))),
                            "lastPoll": s.last_poll.map(|t| fmt(Some(t))), "lastError": s.last_error,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if list.is_empty() {
                println!("no tenant is registered (riskrelay tenants add TENANT_ID --name NAME)");
            } else {
                println!("TENANT\tNAME\tCONSENT\tLAST POLL\tSINKS\tLAST ERROR");
                for (r, s) in &list {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        r.id,
                        shown(&r.name),
                        match s.refusal {
                            Some(why) => format!("{} ({})", s.consent.name(), why.name()),
                            None => s.consent.name().to_string(),
                        },
                        fmt(s.last_poll),
                        if r.sinks.is_empty() {
                            "shared".to_string()
                        } else {
                            shown(&r.sinks.join(","))
                        },
                        shown(s.last_error.as_deref().unwrap_or("-"))
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantsAction::ConsentUrl { tenant } => {
            let id = tenant_arg(&tenant)?;
            let link = ConsentLink::load(&env)?;
            let store = registry_store(db, table).await?;
            if !fleet::statuses(store.as_ref())
                .await?
                .iter()
                .any(|(r, _)| r.id == id)
            {
                anyhow::bail!("{id} is not registered (riskrelay tenants add {id} --name NAME)");
            }
            println!("{}", link.url(id));
            Ok(ExitCode::SUCCESS)
        }
        TenantsAction::Remove { tenant } => {
            let id = tenant_arg(&tenant)?;
            let store = registry_store(db, table).await?;
            match fleet::unregister(store.as_ref(), id).await? {
                Some(r) => {
                    println!(
                        "Removed {} ({id}). Its subscriptions lapse on their own within three days; revoke the app in that tenant to end access now.",
                        shown(&r.name)
                    );
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("riskrelay: {id} is not registered");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// The store a snooze command works on, with the tenant its documents belong to.
async fn snooze_store(
    db: PathBuf,
    table: Option<String>,
    tenant: Option<String>,
) -> anyhow::Result<(Arc<dyn Store>, riskrelay::ids::TenantId)> {
    let env = Env::from_process();
    let named = tenant.is_some();
    let tenant = match tenant {
        Some(t) => tenant_arg(&t)?,
        None => riskrelay::config::tenant_id(&env)?,
    };
    let store: Arc<dyn Store> = match table {
        Some(table) => Arc::new(riskrelay::store::dynamo::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&riskrelay::aws::config().await),
            table,
        )),
        None if db.exists() => Arc::new(sqlite(&env, &db)?),
        None => anyhow::bail!(
            "there is no database at {} (set --db or RISKRELAY_SQLITE_PATH to the service's, or --table for a deployment's DynamoDB table)",
            db.display()
        ),
    };
    // A snooze for a tenant this deployment does not watch would be kept where nothing reads it.
    if named {
        match riskrelay::tenancy::Mode::load(&env)? {
            riskrelay::tenancy::Mode::Registry => {
                let watched = riskrelay::fleet::statuses(store.as_ref())
                    .await?
                    .iter()
                    .any(|(r, _)| r.id == tenant);
                if !watched {
                    anyhow::bail!(
                        "--tenant {tenant} is not a registered tenant of this deployment (riskrelay tenants list shows them)"
                    );
                }
            }
            riskrelay::tenancy::Mode::Config => {
                if let Ok(own) = riskrelay::config::tenant_id(&env)
                    && own != tenant
                {
                    anyhow::bail!(
                        "--tenant {tenant} is not the tenant this deployment watches (RISKRELAY_TENANT_ID is {own})"
                    );
                }
            }
        }
    }
    Ok((store, tenant))
}

async fn snooze(
    (store, tenant): (Arc<dyn Store>, riskrelay::ids::TenantId),
    user: &str,
    duration: Option<&str>,
    reason: Option<&str>,
    by: &str,
) -> anyhow::Result<ExitCode> {
    use riskrelay::snooze;
    let duration =
        snooze::parse_duration(duration.context("say how long with --for, such as --for 7d")?)
            .map_err(|e| anyhow::anyhow!("--for: {e}"))?;
    let now = time::OffsetDateTime::now_utc();
    let mut s = snooze::new(user, duration, reason.unwrap_or_default(), by, None, now)
        .map_err(anyhow::Error::msg)?;
    // The level today, when riskrelay knows the user by id: an escalation above it breaks through.
    if let Some(id) = s.user_id {
        s.level = riskrelay::store::load::<riskrelay::reconcile::UserState>(
            store.as_ref(),
            tenant,
            &riskrelay::store::keys::user(id),
        )
        .await?
        .map(|v| v.value.risk_level);
    }
    let until = s.until;
    let name = shown(&s.user.to_string());
    riskrelay::source::snoozes::update(store.as_ref(), tenant, |b| b.add(s.clone())).await?;
    println!(
        "{name} snoozed until {}; the snooze is posted at the next poll cycle",
        riskrelay::render::time_text(until)
    );
    Ok(ExitCode::SUCCESS)
}

async fn snooze_list(
    (store, tenant): (Arc<dyn Store>, riskrelay::ids::TenantId),
) -> anyhow::Result<ExitCode> {
    let (book, _) = riskrelay::source::snoozes::load(store.as_ref(), tenant).await?;
    let now = time::OffsetDateTime::now_utc();
    let running: Vec<_> = book.active.iter().filter(|s| s.until > now).collect();
    if running.is_empty() {
        println!("nobody is snoozed");
    }
    for s in running {
        println!(
            "{}\tuntil {}\tby {}\t{} held back\t{}",
            shown(&s.user.to_string()),
            riskrelay::render::time_text(s.until),
            shown(&s.by),
            s.held,
            shown(&s.reason)
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn snooze_clear(
    (store, tenant): (Arc<dyn Store>, riskrelay::ids::TenantId),
    user: &str,
    by: &str,
) -> anyhow::Result<ExitCode> {
    let who = riskrelay::ids::UserRef::parse(user)
        .filter(|_| user.chars().count() <= riskrelay::snooze::USER_MAX)
        .with_context(|| {
            format!(
                "\"{}\" is neither a user principal name (name@domain) nor a user id (GUID)",
                shown(user)
            )
        })?;
    let now = time::OffsetDateTime::now_utc();
    let cleared =
        riskrelay::source::snoozes::update(store.as_ref(), tenant, |b| b.clear(&who, by, now))
            .await?;
    if cleared {
        println!(
            "{}'s snooze lifted; posted at the next poll cycle",
            shown(&who.to_string())
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{} is not snoozed", shown(&who.to_string()));
        Ok(ExitCode::from(1))
    }
}

async fn subscribe() -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    if riskrelay::tenancy::Mode::load(&env)? == riskrelay::tenancy::Mode::Registry {
        anyhow::bail!(
            "with RISKRELAY_TENANTS=registry each tenant's subscriptions are kept by riskrelay run (or the poller in AWS), each with its own clientState"
        );
    }
    let secrets = EnvSecrets(&env);
    let settings = Settings::load(&env, &secrets)?;
    settings.require_client_states(&secrets)?;
    let app = App::build(&settings, Role::Tool, Adapters::new(optional_store(&env)?))?;
    let r = app
        .upkeep()?
        .ensure(app.clock.now())
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
        for r in &batch.records {
            match riskrelay::queue::sqs::decode(r) {
                Ok((id, item)) => println!("{id}\t{}", serde_json::to_string(&item)?),
                Err(id) => {
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
    let response = app
        .handle(riskrelay::source::webhook::from_lambda(request))
        .await;
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

/// The service's SQLite database, with `RISKRELAY_CLAIM_LEASE_SECONDS` when set.
fn sqlite(env: &Env, db: &std::path::Path) -> anyhow::Result<SqliteStore> {
    let store = SqliteStore::open(db).with_context(|| format!("opening {}", db.display()))?;
    let lease = env.or(
        "RISKRELAY_CLAIM_LEASE_SECONDS",
        "seconds, 5 to 3600",
        riskrelay::store::CLAIM_LEASE,
        riskrelay::config::seconds(5..=3600),
    )?;
    Ok(store.with_claim_lease(lease))
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
