//! The `riskrelay` command line. Wiring only: each command reads its configuration, builds the
//! parts from the library and runs them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use riskrelay::telemetry::{self, LogFormat};

use riskrelay_cli::commands::{self, tenants::TenantsAction};

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
        /// One tenant of an MSP deployment (its registry in RISKRELAY_SQLITE_PATH).
        #[arg(long, conflicts_with_all = ["all_tenants", "simulate"])]
        tenant: Option<String>,
        /// Every tenant of an MSP deployment, one report each.
        #[arg(long, conflicts_with = "simulate")]
        all_tenants: bool,
    },
    /// List the messages `riskrelay run` set aside because a destination would not take them, or
    /// post them to that destination again. Uses the service's settings and database.
    Parked {
        /// Post them again: `all`, or one id from the list. Each one that arrives leaves the list.
        #[arg(long, value_name = "ID|all")]
        replay: Option<String>,
        /// One tenant of an MSP deployment.
        #[arg(long, conflicts_with = "all_tenants")]
        tenant: Option<String>,
        /// Every tenant of an MSP deployment.
        #[arg(long)]
        all_tenants: bool,
        /// The service's SQLite database file.
        #[arg(
            long,
            env = "RISKRELAY_SQLITE_PATH",
            default_value = "riskrelay.sqlite"
        )]
        db: PathBuf,
    },
    /// Snooze a user or workload identity the team is handling: its alerts are held back (an
    /// escalation above today's level, a compromise and the end of the risk still post), and the snooze itself is
    /// posted at the next poll cycle. Works on the service's SQLite file or, with --table, on
    /// the deployment's DynamoDB table (the usual AWS credentials).
    #[command(group(clap::ArgGroup::new("what").args(["user", "list", "clear"]).required(true)))]
    Snooze {
        /// The user (user principal name or object id), or a service principal or agent as
        /// app:<app id or object id>.
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
        /// Lift a snooze now (a user, or app:<id>).
        #[arg(long, value_name = "USER", conflicts_with = "user")]
        clear: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
        /// The tenant the user is in (an MSP deployment; default RISKRELAY_TENANT_ID).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Each tenant's state as riskrelay last recorded it: the last successful poll and its lag,
    /// failing polls, consent, the on-premises reset setting, snoozes, parked messages and
    /// subscriptions. No Graph request. Exit 0 all well, 1 something needs attention. Works on the
    /// service's SQLite file or, with --table, on the deployment's DynamoDB table.
    Status {
        /// Machine-readable JSON on stdout (stable keys).
        #[arg(long)]
        json: bool,
        /// One tenant of an MSP deployment (default: every one).
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
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

/// Where a command finds the service's records.
#[derive(clap::Args, Debug)]
struct StoreArgs {
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
        Command::Status {
            json,
            tenant,
            store,
        } => commands::status::status(json, tenant, store.db, store.table).await,
        Command::Demo {
            out,
            enforce,
            slack_webhook,
            teams_webhook,
            tenants,
        } => {
            commands::demo::demo(out, enforce, slack_webhook, teams_webhook, tenants as usize).await
        }
        Command::Run {
            once,
            simulate,
            tenants,
            listen,
            db,
            console,
        } => {
            commands::run::service(
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
            tenant,
            all_tenants,
        } => commands::check::check(json, enforce, simulate, tenant, all_tenants).await,
        Command::Parked {
            replay,
            tenant,
            all_tenants,
            db,
        } => commands::parked::parked(replay, tenant, all_tenants, db).await,
        Command::Snooze {
            user,
            duration,
            reason,
            by,
            list,
            clear,
            store,
            tenant,
        } => {
            let store = commands::snooze_store(store.db, store.table, tenant).await?;
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .filter(|b| !b.trim().is_empty())
                .context("say who is snoozing with --by (USER is not set)");
            match (user, clear) {
                _ if list => commands::snooze::snooze_list(store).await,
                (_, Some(user)) => commands::snooze::snooze_clear(store, &user, &by?).await,
                (Some(user), None) => {
                    commands::snooze::snooze(
                        store,
                        &user,
                        duration.as_deref(),
                        reason.as_deref(),
                        &by?,
                    )
                    .await
                }
                (None, None) => anyhow::bail!("name a user, or use --list or --clear"),
            }
        }
        Command::Tenants { action, db, table } => {
            commands::tenants::tenants(action, db, table).await
        }
        Command::Subscribe => commands::subscribe::subscribe().await,
        Command::Replay { file } => commands::replay::replay(file).await,
        Command::Serve { listen } => commands::serve::serve(listen).await,
    }
}
