//! The `riskrelay` command line.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use riskrelay::config::{Env, EnvSecrets, WebhookConfig};
use riskrelay::queue::memory::MemoryQueue;
use riskrelay::telemetry;
use riskrelay::webhook::Webhook;

#[derive(Parser)]
#[command(
    name = "riskrelay",
    version,
    about = "Entra user-risk alerts for Slack and Teams, and a guard for on-premises self-remediation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Graph webhook locally and print each accepted observation or lifecycle event as a
    /// JSON line on stdout.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(telemetry::LogFormat::from_env());
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("riskrelay: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { listen } => serve(listen).await,
    }
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
